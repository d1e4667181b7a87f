"""Threshold proposals (the arithmetic, with a fake scorer) and the YAML edit that writes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import yaml

from monitors.article import ArticleText
from monitors.detector import Detector
from monitors.evaluation import ExampleScore, evaluate
from monitors.labels import Labels
from monitors.tuning import format_proposals, propose
from monitors.watchlist_edit import EditError, set_thresholds
from tests.monitors.conftest import article, topics_yaml

WATCHLIST = topics_yaml("  - id: pause\n    any: [moratorium]\n")


class FakeScorer:
    def __init__(self, scores: dict[str, float], threshold: float) -> None:
        self.scores = scores
        self.threshold = threshold

    def thresholds(self) -> dict[str, float]:
        return {"pause": self.threshold}

    def score_many(self, articles: Sequence[ArticleText]) -> list[dict[str, ExampleScore]]:
        return [{"pause": ExampleScore(self.scores[a.id])} for a in articles]


def _proposal(
    make_detector: Callable[..., Detector],
    rows: list[tuple[str, str, bool, float]],
    min_precision: float,
    current: float = 0.5,
):  # type: ignore[no-untyped-def]
    labels = Labels()
    for i, _, positive, _ in rows:
        labels.add_topics(i, ["pause"] if positive else [])
    articles = [article(title, id=i) for i, title, _, _ in rows]
    scorer = FakeScorer({i: s for i, _, _, s in rows}, current)
    report = evaluate(make_detector(WATCHLIST), articles, labels, scorer)
    return propose(report.topic("pause"), min_precision)


# Positives at 0.80, 0.70, 0.62, 0.50; negatives at 0.66, 0.40, 0.30: one rule match.
ROWS = [
    ("p1", "x", True, 0.80),
    ("p2", "x", True, 0.70),
    ("n1", "x", False, 0.66),
    ("p3", "x", True, 0.62),
    ("p4", "x", True, 0.50),
    ("n2", "x", False, 0.40),
    ("n3", "x", False, 0.30),
    ("r1", "a moratorium", True, 0.10),
]


def test_highest_recall_at_the_precision_asked_halfway_to_the_next_score(
    make_detector: Callable[..., Detector],
) -> None:
    strict = _proposal(make_detector, ROWS, 1.0)
    # Only p1, p2 (and the rule) come without a false positive: halfway between 0.70 and 0.66.
    assert strict is not None and strict.proposed == 0.68
    assert strict.then is not None and (strict.then.tp, strict.then.fp) == (3, 0)
    loose = _proposal(make_detector, ROWS, 0.8)
    # Down to p4 with n1 let through: 5/6 = 0.83 >= 0.8; halfway between 0.50 and 0.40.
    assert loose is not None and loose.proposed == 0.45
    assert loose.then is not None and (loose.then.tp, loose.then.fp, loose.then.fn) == (5, 1, 0)
    assert (loose.now.tp, loose.now.fp) == (5, 1)  # 0.5 already lets p4 through
    assert loose.changes and "only 5 labeled positives" in loose.notes[0]


def test_no_proposal_when_the_rules_alone_are_below_the_precision(
    make_detector: Callable[..., Detector],
) -> None:
    rows = [*ROWS, ("r2", "a moratorium on rent", False, 0.1)]
    proposal = _proposal(make_detector, rows, 0.9)
    assert proposal is not None and proposal.proposed is None
    assert "the rules alone have precision 0.500 < 0.9" in proposal.notes[-1]


def test_examples_that_only_cost_precision_get_a_higher_threshold(
    make_detector: Callable[..., Detector],
) -> None:
    # p1 (0.5) cannot be had without n1 (0.9): at 0.99 the examples only add a false positive.
    rows = [("n1", "x", False, 0.9), ("p1", "x", True, 0.5), ("r1", "a moratorium", True, 0.1)]
    proposal = _proposal(make_detector, rows, 0.99)
    assert proposal is not None and proposal.proposed == 0.91  # just above the top score
    assert proposal.then is not None and (proposal.then.tp, proposal.then.fp) == (1, 0)
    assert "cost precision at 0.5" in proposal.notes[-1]
    # When the examples do add a positive above the negatives, it stays: p1 in, n1 out.
    rows = [("p1", "x", True, 0.8), ("n1", "x", False, 0.7), ("n2", "x", False, 0.3)]
    rows += [("r1", "a moratorium", True, 0.1)]
    proposal = _proposal(make_detector, rows, 0.99, current=0.5)
    assert proposal is not None and proposal.proposed == 0.75  # p1 kept, n1 out
    assert proposal.then is not None and (proposal.then.tp, proposal.then.fp) == (2, 0)


def test_no_proposal_when_examples_add_nothing_and_precision_holds(
    make_detector: Callable[..., Detector],
) -> None:
    rows = [("n1", "x", False, 0.4), ("p1", "x", True, 0.3), ("r1", "a moratorium", True, 0.1)]
    proposal = _proposal(make_detector, rows, 0.99, current=0.6)
    assert proposal is not None and proposal.proposed is None and not proposal.changes
    text = format_proposals([proposal], ["other"], 0.99)
    assert "find no labeled positive that the rules miss, and the current threshold keeps" in text
    assert "other: no examples, rules only: nothing to tune" in text


YAML = """\
# header comment
topics:
  - id: a
    any: [x]   # keep me
    semantic:
      margin: 0.05
      threshold: 0.60   # tuned by hand
  - id: b
    any: [y]
    semantic: {margin: 0.1}
  - id: c
    any: [z]
  - {id: d, any: [w]}
  - id: e
    any: [v]
    semantic:
      margin: 0.02
"""


def test_set_thresholds_changes_only_the_numbers() -> None:
    text = set_thresholds(YAML, {"a": 0.572, "b": 0.5, "c": 0.61, "d": 0.7, "e": 0.55})
    assert "      threshold: 0.572   # tuned by hand\n" in text
    assert "    semantic: {threshold: 0.5, margin: 0.1}\n" in text
    assert "  - id: c\n    semantic: {threshold: 0.61}\n    any: [z]\n" in text
    assert "  - {id: d, semantic: {threshold: 0.7}, any: [w]}\n" in text
    assert "    semantic:\n      threshold: 0.55\n      margin: 0.02\n" in text
    assert text.startswith("# header comment\n") and "# keep me" in text
    loaded = yaml.safe_load(text)
    assert [t["semantic"]["threshold"] for t in loaded["topics"]] == [0.572, 0.5, 0.61, 0.7, 0.55]
    assert set_thresholds(YAML, {}) == YAML


def test_set_thresholds_refuses_unknown_topics_and_odd_values() -> None:
    with pytest.raises(EditError, match="no topic zz"):
        set_thresholds(YAML, {"zz": 0.5})
    with pytest.raises(EditError, match="not a mapping"):
        set_thresholds("topics:\n  - id: a\n    semantic: 3\n", {"a": 0.5})
