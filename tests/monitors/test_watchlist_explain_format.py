"""``watchlist test``'s semantic lines: each state of the semantic stage said plainly."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from monitors.detector import TopicExplanation
from monitors.semantic import SemanticScore
from monitors.watchlist import parse_watchlist
from wirewatch.cli.watchlist_explain import explanations_json, format_explanations

WATCHLIST = """\
topics:
  - id: pause
    any: [moratorium]
    examples: [Tech leaders call for a pause on giant AI experiments, A letter asks labs to halt AI]
    counter_examples: [Musk warns about AI]
"""


def _score(**changes: Any) -> SemanticScore:
    fields: dict[str, Any] = {
        "topic": "pause",
        "similarity": 0.5,
        "example": 2,
        "counter_similarity": 0.3,
        "counter_example": 1,
        "vetoed": False,
        "gated": True,
        "threshold": 0.55,
        "margin": 0.05,
    }
    return SemanticScore(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "semantic: 0.500 (threshold 0.55, below the threshold; gate held)"),
        ({"similarity": 0.6}, "semantic: 0.600 (threshold 0.55, passes; gate held)"),
        (
            {"similarity": 0.6, "gated": False},
            "semantic: 0.600 (threshold 0.55, passes; gate did not hold: not a candidate)",
        ),
        ({"vetoed": True}, "(threshold 0.55, vetoed by a counter-example; gate held)"),
        ({"excluded": True}, "(threshold 0.55, vetoed by an exclusion; gate held)"),
    ],
)
def test_semantic_lines(changes: dict[str, Any], expected: str) -> None:
    detector: Any = SimpleNamespace(watchlist=parse_watchlist(WATCHLIST, "w.yaml"))
    item = TopicExplanation("pause", False, {}, (), (), semantic=_score(**changes))
    lines = format_explanations(detector, [item], ()).splitlines()
    assert lines[0] == "no match pause"
    assert expected in lines[2]
    assert lines[3:] == [
        "        nearest example 2: A letter asks labs to halt AI",
        "        nearest counter-example 1 (0.300): Musk warns about AI",
    ]
    data = explanations_json(detector, [item], ())["topics"][0]["semantic"]
    assert data["example_text"] == "A letter asks labs to halt AI"
    assert data["counter_example_text"] == "Musk warns about AI"
