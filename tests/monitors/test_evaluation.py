"""Evaluation arithmetic: rules, examples and combined modes, and the threshold sweep.

The semantic stage is a fake scorer here (fixed scores per article): the point is the counting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from monitors.article import ArticleText
from monitors.detector import Detector
from monitors.evaluation import ExampleScore, evaluate, format_report
from monitors.labels import Labels, read_labels
from tests.monitors.conftest import article, topics_yaml

WATCHLIST = topics_yaml(
    """\
  - id: pause
    any: [moratorium]
  - id: other
    any: [unrelated]
"""
)


class FakeScorer:
    """Scores by article id for topic "pause"; the gate holds unless the id says "nogate"."""

    def __init__(self, scores: dict[str, float], threshold: float = 0.5) -> None:
        self.scores = scores
        self.threshold = threshold

    def thresholds(self) -> dict[str, float]:
        return {"pause": self.threshold}

    def score_many(self, articles: Sequence[ArticleText]) -> list[dict[str, ExampleScore]]:
        return [
            {"pause": ExampleScore(self.scores.get(a.id, 0.0), eligible="nogate" not in a.id)}
            for a in articles
        ]


# id, title, label for "pause", semantic score
ROWS = [
    ("rule-tp", "A moratorium on AI", True, 0.70),
    ("rule-fp", "A moratorium on mortgages", False, 0.20),
    ("sem-tp", "Tech leaders urge a slowdown", True, 0.62),
    ("sem-tp-low", "Calls for a breather in AI work", True, 0.46),
    ("sem-fp", "AI risk warning without a pause", False, 0.55),
    ("nogate-pos", "A pause phrased without any gate word", True, 0.90),
    ("neg", "Weather", False, 0.10),
]


@pytest.fixture
def detector(make_detector: Callable[..., Detector]) -> Detector:
    return make_detector(WATCHLIST)


def _data(rows: list[tuple[str, str, bool, float]]) -> tuple[list[ArticleText], Labels]:
    articles = [article(title, id=i) for i, title, _, _ in rows]
    labels = Labels()
    for i, _, positive, _ in rows:
        labels.add_topics(i, ["pause"] if positive else [])
    return articles, labels


def test_three_modes_at_the_configured_threshold(detector: Detector) -> None:
    articles, labels = _data(ROWS)
    scorer = FakeScorer({i: s for i, _, _, s in ROWS}, threshold=0.5)
    report = evaluate(detector, articles, labels, scorer, thresholds=[0.4, 0.5, 0.6])
    pause = report.topic("pause")
    figures = {mode: (s.tp, s.fp, s.fn) for mode, s in pause.modes.items()}
    assert figures == {
        "rules": (1, 1, 3),
        # rule-tp, sem-tp pass; sem-fp passes wrongly; sem-tp-low below; nogate-pos gated out
        "examples": (2, 1, 2),
        "combined": (2, 2, 2),
    }
    assert pause.configured is pause.modes["combined"]
    assert [m.article_id for m in pause.configured.false_negatives] == ["sem-tp-low", "nogate-pos"]
    assert pause.configured.false_negatives[0].score == pytest.approx(0.46)


def test_sweep_counts_every_threshold(detector: Detector) -> None:
    articles, labels = _data(ROWS)
    scorer = FakeScorer({i: s for i, _, _, s in ROWS})
    pause = evaluate(detector, articles, labels, scorer, thresholds=[0.4, 0.6, 0.8]).topic("pause")
    assert [p.threshold for p in pause.sweep] == [0.4, 0.6, 0.8]
    assert [(p.examples.tp, p.examples.fp, p.examples.fn) for p in pause.sweep] == [
        (3, 1, 1),
        (2, 0, 2),
        (0, 0, 4),
    ]
    assert [(p.combined.tp, p.combined.fp, p.combined.fn) for p in pause.sweep] == [
        (3, 2, 1),
        (2, 1, 2),
        (1, 1, 3),  # the rules alone, once the threshold is above every score
    ]
    point = pause.sweep[0].combined
    assert point.precision == pytest.approx(3 / 5) and point.recall == pytest.approx(3 / 4)


def test_topics_without_examples_are_rules_only(detector: Detector) -> None:
    articles, labels = _data(ROWS)
    report = evaluate(detector, articles, labels, FakeScorer({i: s for i, _, _, s in ROWS}))
    other = report.topic("other")
    assert not other.has_examples and list(other.modes) == ["rules"] and other.sweep == []
    lines = format_report(report).splitlines()
    assert lines[2:7] == [
        "topic  mode        tp   fp   fn  precision  recall     f1",
        "pause  rules        1    1    3      0.500   0.250  0.333",
        "       examples     2    1    2      0.667   0.500  0.571  (threshold 0.5)",
        "       combined     2    2    2      0.500   0.500  0.500  (threshold 0.5)",
        "other  rules        0    0    0      1.000   1.000  1.000  (no examples: rules only)",
    ]
    assert "threshold sweep of pause (4 positives, 3 negatives judged):" in lines
    marked = [line for line in lines if line.endswith("<- configured")]
    assert len(marked) == 1 and marked[0].lstrip().startswith("0.50 ")


def test_only_judged_topics_count(detector: Detector) -> None:
    articles = [article("A moratorium on mortgages", id="a"), article("Weather", id="b")]
    labels = read_labels(['{"id": "a", "judgments": {"other": false}}'], "l.jsonl")
    report = evaluate(detector, articles, labels)
    # "a" is judged for "other" only: its rule match for "pause" is not a false positive.
    assert [(s.topic, s.tp, s.fp, s.fn) for s in report.topics] == [
        ("pause", 0, 0, 0),
        ("other", 0, 0, 0),
    ]
    assert [row.article_id for row in report.topic("pause").rows] == ["b"]
    assert [row.article_id for row in report.topic("other").rows] == ["a", "b"]


def test_json_keeps_the_configured_figures_on_top(detector: Detector) -> None:
    articles, labels = _data(ROWS)
    data = evaluate(detector, articles, labels, FakeScorer({}), thresholds=[0.5]).to_dict()
    pause = data["topics"]["pause"]
    assert (pause["tp"], pause["fp"], pause["fn"]) == (1, 1, 3)  # combined: no score passes
    assert set(pause["modes"]) == {"rules", "examples", "combined"}
    assert pause["threshold"] == 0.5 and pause["positives"] == 4 and pause["judged"] == 7
    assert pause["sweep"][0]["examples"]["tp"] == 0
    assert data["topics"]["other"]["modes"].keys() == {"rules"}


def test_a_plain_mapping_of_labels_still_works(detector: Detector) -> None:
    articles = [article("A moratorium on AI", id="a")]
    report = evaluate(detector, articles, {"a": {"pause"}})
    assert (report.topics[0].tp, report.topics[1].fp) == (1, 0)


def test_plot_draws_one_panel_per_topic(detector: Detector, tmp_path: Path) -> None:
    import matplotlib.image

    from monitors.evaluation_plot import plot_report

    articles, labels = _data(ROWS)
    report = evaluate(detector, articles, labels, FakeScorer({i: s for i, _, _, s in ROWS}))
    path = tmp_path / "sweep.png"
    plot_report(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(path).shape
    assert (width, height) == (920, 360)  # two panels side by side, 4.6 x 3.6 inches at 100 dpi
