"""The configured trained English pipeline is installed and finds people and organisations."""

import spacy

from wirewatch.settings import load_settings


def test_configured_model_finds_person_and_org() -> None:
    nlp = spacy.load(load_settings().spacy_model)
    doc = nlp("Elon Musk met executives of Microsoft and Google in London on Tuesday.")
    labels = {(ent.text, ent.label_) for ent in doc.ents}
    assert ("Elon Musk", "PERSON") in labels
    assert any(label == "ORG" for _, label in labels), labels
