"""Reactions on alert messages to per-topic judgments (the pure core of feedback sync)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alerts.feedback import FeedbackCounts, ReactionMap, combine, message_verdict
from alerts.sinks.common import metadata
from tests.slackserver import VALID_TOKEN


def message(alert_ids: list[str], *reactions: str, event_type: str | None = None) -> dict[str, Any]:
    meta = metadata(alert_ids)
    if event_type:
        meta["event_type"] = event_type
    return {
        "ts": "1795703400.000100",
        "text": "[AI moratorium] ...",
        "metadata": meta,
        "reactions": [{"name": name, "users": ["U1"], "count": 1} for name in reactions],
    }


def verdicts(*messages: dict[str, Any], reactions: ReactionMap | None = None) -> Any:
    counts = FeedbackCounts()
    found = [message_verdict(m, reactions or ReactionMap(), counts) for m in messages]
    return [v for v in found if v is not None], counts


def test_thumbs_down_is_wrong_topic_and_check_mark_is_right() -> None:
    found, counts = verdicts(
        message(["a1"], "-1"),
        message(["a2"], "white_check_mark"),
        message(["a3"], "+1::skin-tone-4"),  # skin tones name the same reaction
        message(["a4"]),  # no reaction: no verdict
        message(["a5"], "eyes"),  # an unmapped reaction: no verdict
    )
    assert [(v.alert_ids, v.right) for v in found] == [
        (("a1",), False),
        (("a2",), True),
        (("a3",), True),
    ]
    assert counts.alert_messages == 5 and counts.with_verdict == 3
    feedback = combine(
        found,
        {
            "a1": ("art-1", "ai-moratorium"),
            "a2": ("art-2", "twitter-ai"),
            "a3": ("art-1", "twitter-ai"),
        },
        counts,
    )
    assert feedback.label_lines() == [
        {"id": "art-1", "judgments": {"ai-moratorium": False, "twitter-ai": True}},
        {"id": "art-2", "judgments": {"twitter-ai": True}},
    ]


def test_unclear_feedback_gives_no_label_and_is_counted() -> None:
    found, counts = verdicts(
        message(["a1"], "-1", "white_check_mark"),  # mixed on one message
        message(["d1", "d2"], "-1"),  # a digest: which headline?
        message(["a2"], "-1", event_type="something_else"),  # not a Wirewatch alert
        {"ts": "1", "text": "a person talking", "reactions": [{"name": "-1", "count": 1}]},
        message(["a3"], "-1"),
        message(["a3b"], "white_check_mark"),  # same article and topic, another channel
        message(["gone"], "-1"),  # no outcome record
    )
    assert counts.mixed_reactions == 1 and counts.digests == 1 and counts.alert_messages == 5
    feedback = combine(found, {"a3": ("art-3", "china-llm"), "a3b": ("art-3", "china-llm")}, counts)
    assert feedback.label_lines() == []
    assert counts.conflicting == 1 and counts.unknown_alerts == 1


def test_reactions_are_configurable_but_not_both_ways() -> None:
    custom = ReactionMap(wrong=frozenset({"x"}), right=frozenset({"heavy_plus_sign"}))
    found, _ = verdicts(message(["a1"], "x"), message(["a2"], "-1"), reactions=custom)
    assert [(v.alert_ids, v.right) for v in found] == [(("a1",), False)]
    with pytest.raises(ValueError, match="both wrong and right: ok"):
        ReactionMap(wrong=frozenset({"ok"}), right=frozenset({"ok"}))


@pytest.mark.parametrize(
    ("args", "env", "error"),
    [
        (
            ["--wrong", "Thumbs Down"],
            {"WIREWATCH_SLACK_TOKEN": VALID_TOKEN},
            "--wrong 'Thumbs Down'",
        ),
        (["--wrong", ":ok:", "--right", "ok"], {"WIREWATCH_SLACK_TOKEN": VALID_TOKEN}, "both"),
        (["--since", "a while"], {"WIREWATCH_SLACK_TOKEN": VALID_TOKEN}, "--since 'a while'"),
        ([], {}, "feedback sync needs a bot token"),
    ],
)
def test_sync_refuses_bad_options_before_reading_anything(
    args: list[str], env: dict[str, str], error: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    labels = tmp_path / "labels.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "wirewatch", "feedback", "sync", "--labels", str(labels), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and error in result.stderr, result.stderr
    assert not labels.exists()
    assert VALID_TOKEN not in result.stderr
