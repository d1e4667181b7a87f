"""Reading dead letters back: selection, counts by reason, where a replay sends each one (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest

from streams.dead_letters import (
    StoredDeadLetter,
    counts_by_reason,
    dead_letter,
    replay_record,
    select,
)
from streams.health import WorkerHealth
from streams.records import MatchV1
from streams.topics import TopicNames
from wirewatch.cli.deadletters import parse_since

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
NAMES = TopicNames.with_prefix("ww")
MATCH = MatchV1(
    article_id="a1", topic="ai-moratorium", watchlist_version="v", matched_at=NOW
).to_json()


def letter(
    letter_id: str, stage: str, kind: str, original: bytes, age_h: float
) -> StoredDeadLetter:
    record = dead_letter(stage, kind, "error", original, NOW - timedelta(hours=age_h))
    return StoredDeadLetter(letter_id, stage, record.model_copy(update={"key": "k1"}))


LETTERS = [
    letter("alerts:0:0", "alerts", "channel_not_found", MATCH, 30),
    letter("alerts:1:4", "alerts", "channel_not_found", MATCH, 1),
    letter("alerts:1:5", "alerts", "invalid_blocks", MATCH, 1),
    letter("articles:0:9", "articles", "timeout", b'{"id": "a1"}', 2),
]


def test_filters_combine_and_none_selects_everything() -> None:
    assert select(LETTERS) == LETTERS
    assert [x.id for x in select(LETTERS, reasons=["channel_not_found"])] == [
        "alerts:0:0",
        "alerts:1:4",
    ]
    recent = select(LETTERS, since=NOW - timedelta(hours=3), reasons=["channel_not_found"])
    assert [x.id for x in recent] == ["alerts:1:4"]
    assert [x.id for x in select(LETTERS, ids=["articles:0:9"])] == ["articles:0:9"]


def test_counts_by_reason() -> None:
    assert counts_by_reason(LETTERS) == {
        ("alerts", "channel_not_found"): 2,
        ("alerts", "invalid_blocks"): 1,
        ("articles", "timeout"): 1,
    }


def test_a_replay_goes_to_the_stage_input_keyed_as_the_pipeline_keys_it() -> None:
    assert replay_record(LETTERS[0], NAMES) == ("ww.matches.v1", b"ai-moratorium", MATCH)
    assert replay_record(LETTERS[3], NAMES) == ("ww.articles.v1", b"k1", b'{"id": "a1"}')


def test_a_cut_original_is_not_replayable() -> None:
    huge = letter("articles:0:1", "articles", "invalid_record", b"x" * (600 * 1024), 1)
    with pytest.raises(ValueError, match="cut"):
        replay_record(huge, NAMES)


def test_since_takes_durations_and_times() -> None:
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("2026-12-01T09:00", NOW) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(click.BadParameter, match="--since"):
        parse_since("yesterday", NOW)


def test_health_is_amber_while_held_or_rate_limited_and_red_when_paused() -> None:
    health = WorkerHealth(clock=lambda: 100.0)
    assert health.report()["status"] == "green"
    health.replay_check = "unavailable: the token lacks channels:history"
    assert (health.report()["status"], health.report()["ok"]) == ("amber", True)
    health.replay_check = None
    health.rate_limited = lambda: {"#news": 42.0}
    # Waiting on a rate limit is not a stall, however long it lasts.
    health.backlog = lambda: {"alert": 5}
    health.stall_seconds = 1.0
    report = health.report()
    assert (report["status"], report["ok"], report["stalled"]) == ("amber", True, None)
    health.delivery_paused = "invalid_auth"
    assert (health.report()["status"], health.report()["ok"]) == ("red", False)
