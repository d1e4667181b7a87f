"""The semantic stage: examples and counter-examples, the gate, near misses and the why-text.

Validation cases need no model; every other test runs the real packaged embedding model
(all-MiniLM-L6-v2 int8 ONNX, installed by setup), never a stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alerts.formatting import render_alert
from alerts.model import Alert, EvidenceItem
from monitors.detector import Detector
from monitors.embedding import load_embedder
from monitors.watchlist import WatchlistError, load_watchlist, parse_watchlist
from tests.monitors.conftest import article
from wirewatch.errors import ModelError

# A topic whose rules only know the words "pause" + "AI"; its examples say what it means.
PAUSE = """
topics:
  - id: pause
    rules:
      - near: {terms: [[pause, moratorium], [{text: AI, case_sensitive: true}]], within: 5}
    exclude: [advertisers]
%s
"""
EXAMPLES = """
    examples:
      - Tech leaders call for a six-month pause on training giant AI systems
      - An open letter urges labs to halt advanced artificial intelligence experiments
      - Researchers demand a moratorium on developing AI more powerful than GPT-4
"""
COUNTER = """
    counter_examples:
      - Musk warns that artificial intelligence is a danger to civilisation
"""
SEMANTIC = """
    semantic:
      threshold: 0.55
      margin: 0.1
      gate: [artificial intelligence, AI, slowdown, letter]
"""

# Rules miss it (no "pause", no "AI"); it says the same thing in other words.
PARAPHRASE = (
    "Scientists sign letter asking to stop building ever more powerful artificial intelligence"
)


def errors_of(text: str, source: str = "w.yaml") -> list[str]:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist(text, source)
    return caught.value.errors


# --- validation (no model) ----------------------------------------------------------------------

BASE = "topics:\n  - id: t\n    any: [x]\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "    examples: [a]\n    semantic: {threshold: 1.5}\n",
            ["w.yaml:5:27 topics[0].semantic.threshold: must be <= 1"],
            id="threshold-above-1",
        ),
        pytest.param(
            "    examples: [a]\n    semantic: {margn: 0.1}\n",
            ["w.yaml:5:16 topics[0].semantic.margn: unknown key (did you mean 'margin'?)"],
            id="typo-in-semantic",
        ),
        pytest.param(
            "    examples: []\n",
            ["w.yaml:4:15 topics[0].examples: must not be empty"],
            id="no-examples",
        ),
        pytest.param(
            "    examples: ['  ']\n",
            ["w.yaml:4:16 topics[0].examples[0]: an example must not be empty"],
            id="blank-example",
        ),
        pytest.param(
            "    examples: one text\n",
            ["w.yaml:4:15 topics[0].examples: must be a list of texts or {file: name.jsonl}"],
            id="examples-not-a-list",
        ),
        pytest.param(
            "    examples: {file: examples.txt}\n",
            [
                "w.yaml:4:22 topics[0].examples.file: must name a JSON-lines file "
                '(name.jsonl, one {"text": ...} a line)'
            ],
            id="file-not-jsonl",
        ),
        pytest.param(
            "    counter_examples: [a]\n",
            ["w.yaml:2:5 topics[0]: counter_examples need examples"],
            id="counter-examples-without-examples",
        ),
        pytest.param(
            "    semantic: {threshold: 0.5}\n",
            ["w.yaml:2:5 topics[0]: semantic need examples"],
            id="semantic-without-examples",
        ),
        pytest.param(
            "    examples: [a]\n    semantic: {gate: {all: [[x], [{entity: acme}]]}}\n",
            [
                "w.yaml:5:44 topics[0].semantic.gate.all[1][0].entity: unknown entity 'acme' "
                "(declare it under entities:)"
            ],
            id="gate-block-unknown-entity",
        ),
        pytest.param(
            "    examples: [a]\n    semantic: {gate: [{entity: acme}]}\n",
            [
                "w.yaml:5:32 topics[0].semantic.gate[0].entity: unknown entity 'acme' "
                "(declare it under entities:)"
            ],
            id="gate-unknown-entity",
        ),
    ],
)
def test_semantic_keys_are_validated(body: str, expected: list[str]) -> None:
    assert errors_of(BASE + body) == expected


def test_examples_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "good.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\nnot json\n', encoding="utf-8")
    (tmp_path / "empty-text.jsonl").write_text('{"text": ""}\n', encoding="utf-8")
    source = str(tmp_path / "w.yaml")
    assert errors_of(BASE + "    examples: {file: bad.jsonl}\n", source) == [
        f"{source}:4:22 topics[0].examples.file: bad.jsonl:2: invalid JSON: "
        "Expecting value: line 1 column 1 (char 0)"
    ]
    assert errors_of(
        BASE + "    examples: {file: good.jsonl}\n    counter_examples: {file: empty-text.jsonl}\n",
        source,
    ) == [
        f"{source}:5:30 topics[0].counter_examples.file: empty-text.jsonl:1: "
        'expected {"text": "..."} with a non-empty text'
    ]
    assert errors_of(BASE + "    examples: {file: missing.jsonl}\n", source) == [
        f"{source}:4:22 topics[0].examples.file: cannot read {tmp_path / 'missing.jsonl'}: "
        "No such file or directory"
    ]


def test_examples_from_a_file_beside_the_watchlist(tmp_path: Path) -> None:
    lines = [{"text": "first example"}, {"text": "second example", "note": "ignored"}]
    examples = tmp_path / "pause-examples.jsonl"
    examples.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    watchlist = tmp_path / "w.yaml"
    watchlist.write_text(BASE + "    examples: {file: pause-examples.jsonl}\n", encoding="utf-8")
    loaded = load_watchlist(watchlist)
    topic = loaded.topic("t")
    assert topic is not None
    assert topic.example_texts() == ("first example", "second example")
    # New examples in the file are a new watchlist version (workers recompile).
    examples.write_text('{"text": "another example"}\n', encoding="utf-8")
    assert load_watchlist(watchlist).version != loaded.version


# --- the model ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> Any:
    return load_embedder()


@pytest.fixture
def semantic_detector(make_detector: Callable[..., Detector], embedder: Any) -> Detector:
    return make_detector(PAUSE % (EXAMPLES + COUNTER + SEMANTIC), embedder=embedder)


@pytest.mark.model
def test_embedder_gives_unit_vectors_with_meaningful_similarity(embedder: Any) -> None:
    vectors = embedder.embed(
        [
            "Tech leaders urge a pause on giant AI experiments",
            "Experts call for a moratorium on advanced artificial intelligence",
            "Local bakery wins prize for its sourdough bread",
        ]
    )
    assert vectors.shape == (3, 384)
    assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-3
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.3
    assert load_embedder() is embedder  # loaded once per process


@pytest.mark.model
def test_missing_or_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read the embedding model"):
        load_embedder(str(tmp_path))
    (tmp_path / "model.onnx").write_bytes(b"not an onnx file")
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot load the embedding model"):
        load_embedder(str(tmp_path))


@pytest.mark.model
def test_paraphrase_that_rules_miss_is_caught_by_the_examples(
    semantic_detector: Detector, make_detector: Callable[..., Detector]
) -> None:
    rules_only = make_detector(PAUSE % "")
    assert rules_only.detect(article(PARAPHRASE)).matches == ()
    (match,) = semantic_detector.detect(article(PARAPHRASE)).matches
    assert match.topic == "pause"
    (evidence,) = match.evidence
    assert evidence.rule == "semantic"
    assert evidence.text.startswith("similar to example ")
    similarity = float(evidence.text.rsplit("(", 1)[1].rstrip(")"))
    assert similarity >= 0.55 and match.score >= 0.55


@pytest.mark.model
def test_rule_matches_keep_their_rule_evidence(semantic_detector: Detector) -> None:
    (match,) = semantic_detector.detect(article("Experts call for AI pause")).matches
    assert {e.rule for e in match.evidence} == {"rules[0].near"}


@pytest.mark.model
def test_gate_keeps_articles_without_a_gate_term_away_from_the_model(
    semantic_detector: Detector,
) -> None:
    # Close in meaning, but no gate term ("artificial intelligence", "AI", "slowdown",
    # "letter"): not embedded, no match.
    text = "Scientists ask labs to stop building ever more powerful machine minds"
    before = semantic_detector.semantic_articles
    assert semantic_detector.detect(article(text)).matches == ()
    assert semantic_detector.semantic_articles == before
    (scores,) = semantic_detector.semantic_scores([article(text)])
    assert scores["pause"].gated is False  # scored anyway for evaluation, flagged
    semantic_detector.detect(article(PARAPHRASE))
    assert semantic_detector.semantic_articles == before + 1


@pytest.mark.model
def test_counter_example_vetoes_a_close_article(
    semantic_detector: Detector, make_detector: Callable[..., Detector], embedder: Any
) -> None:
    text = "Musk says artificial intelligence could be a danger to civilisation"
    (scores,) = semantic_detector.semantic_scores([article(text)])
    score = scores["pause"]
    assert score.vetoed and score.counter_example == 1
    assert score.counter_similarity is not None and score.counter_similarity > score.similarity
    assert semantic_detector.detect(article(text)).matches == ()
    # Without the counter-example and with a threshold it passes, the same text matches.
    low = SEMANTIC.replace("0.55", f"{score.similarity - 0.01:.3f}")
    without = make_detector(PAUSE % (EXAMPLES + low), embedder=embedder)
    assert [m.topic for m in without.detect(article(text)).matches] == ["pause"]


@pytest.mark.model
def test_exclusions_veto_the_semantic_path_too(semantic_detector: Detector) -> None:
    text = PARAPHRASE + " as advertisers watch"
    (scores,) = semantic_detector.semantic_scores([article(text)])
    assert scores["pause"].excluded
    assert semantic_detector.detect(article(text)).matches == ()


@pytest.mark.model
def test_near_miss_just_below_the_threshold(
    make_detector: Callable[..., Detector], embedder: Any
) -> None:
    probe = make_detector(PAUSE % (EXAMPLES + SEMANTIC), embedder=embedder)
    similarity = probe.semantic_scores([article(PARAPHRASE)])[0]["pause"].similarity
    above = SEMANTIC.replace("0.55", f"{similarity + 0.02:.3f}")
    detector = make_detector(PAUSE % (EXAMPLES + above), embedder=embedder)
    result = detector.detect(article(PARAPHRASE))
    assert result.matches == ()
    (near,) = result.near_misses
    assert near.topic == "pause" and near.reason == "semantic"
    assert near.score == pytest.approx(similarity, abs=1e-3)
    assert near.threshold == pytest.approx(similarity + 0.02, abs=1e-3)
    assert near.detail.startswith("similar to example ") and "threshold" in near.detail
    assert result.to_dict()["near_misses"] == [near.to_dict()]
    # Outside the margin: no near miss.
    far = SEMANTIC.replace("0.55", f"{similarity + 0.2:.3f}")
    far_detector = make_detector(PAUSE % (EXAMPLES + far), embedder=embedder)
    assert far_detector.detect(article(PARAPHRASE)).near_misses == ()


@pytest.mark.model
def test_default_gate_is_the_topics_own_terms(
    make_detector: Callable[..., Detector], embedder: Any
) -> None:
    detector = make_detector(
        PAUSE % (EXAMPLES + "    semantic: {threshold: 0.3}\n"), embedder=embedder
    )
    # "moratorium" is a rule term (the rule needs "AI" too, which is missing): the gate holds.
    gated = article("Scientists propose a moratorium on building bigger thinking machines")
    ungated = article("Scientists ask labs to stop building bigger thinking machines")
    scores = detector.semantic_scores([gated, ungated])
    assert scores[0]["pause"].gated and not scores[1]["pause"].gated
    assert [m.topic for m in detector.detect(gated).matches] == ["pause"]
    assert detector.detect(ungated).matches == ()


@pytest.mark.model
def test_gate_as_a_condition_block(make_detector: Callable[..., Detector], embedder: Any) -> None:
    gate = (
        "    semantic:\n      threshold: 0.5\n"
        "      gate: {all: [[letter], [artificial intelligence]]}\n"
    )
    detector = make_detector(PAUSE % (EXAMPLES + gate), embedder=embedder)
    both = article(PARAPHRASE)  # "letter" and "artificial intelligence"
    one = article("Scientists sign letter asking to stop building ever more powerful machines")
    scores = detector.semantic_scores([both, one])
    assert scores[0]["pause"].gated and not scores[1]["pause"].gated
    assert [m.topic for m in detector.detect(both).matches] == ["pause"]


@pytest.mark.model
def test_why_line_of_the_alert_says_which_example(semantic_detector: Detector) -> None:
    (match,) = semantic_detector.detect(article(PARAPHRASE)).matches
    alert = Alert(
        alert_id="a1",
        story_id="s1",
        topic="pause",
        channel="#ai-policy",
        title=PARAPHRASE,
        evidence=tuple(
            EvidenceItem(text=e.text, field=e.field, rule=e.rule) for e in match.evidence
        ),
    )
    blocks = json.dumps(render_alert(alert).blocks, ensure_ascii=False)
    assert f"*Why:* {match.evidence[0].text}" in blocks
    assert "similar to example " in blocks


def test_topic_without_examples_loads_no_model_and_behaves_as_before(
    make_detector: Callable[..., Detector],
) -> None:
    detector = make_detector(PAUSE % "")
    assert detector._scorer is None
    result = detector.detect(article("Experts call for AI pause"))
    assert [m.topic for m in result.matches] == ["pause"]
    assert result.near_misses == ()
    assert detector.semantic_scores([article("Experts call for AI pause")]) == [{}]
    assert detector.detect(article(PARAPHRASE)).matches == ()
