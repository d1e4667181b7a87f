"""The watchlists people copy from stay valid: the documented example and the shipped ones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from monitors.detector import Detector
from monitors.watchlist import load_watchlist, parse_watchlist
from tests.monitors.conftest import SAMPLE, article

ROOT = Path(__file__).resolve().parents[2]


def test_documented_example_is_valid_and_works(blank_nlp: Any, model_nlp: Any) -> None:
    doc = (ROOT / "docs" / "watchlists.md").read_text(encoding="utf-8")
    example = re.search(r"## A complete example\n\n```yaml\n(.*?)```", doc, re.DOTALL)
    assert example is not None
    watchlist = parse_watchlist(example.group(1), "docs/watchlists.md")
    assert [t.id for t in watchlist.topics] == ["ai-moratorium", "twitter-ai"]
    assert [t.name for t in watchlist.topics] == ["AI moratorium", "Twitter builds AI"]
    detector = Detector(watchlist, model_nlp)
    result = detector.detect(article("Musk and others call to pause AI experiments"))
    assert result.topics() == ("ai-moratorium",)


def test_shipped_watchlists_are_valid() -> None:
    shipped = [*sorted((ROOT / "deploy" / "watchlists").glob("*.yaml")), SAMPLE]
    assert ROOT / "deploy" / "watchlists" / "example.yaml" in shipped  # the service's default
    for path in shipped:
        assert load_watchlist(path).topics, path


def test_topic_name_defaults_to_its_id() -> None:
    watchlist = parse_watchlist("topics:\n  - id: quiet\n    any: [x]\n")
    assert watchlist.topics[0].name == "quiet"
