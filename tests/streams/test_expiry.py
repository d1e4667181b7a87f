"""How expiry reads the age of a table value, and the settings that bound it (streams/expiry.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.expiry import parse_time, policies, posted_time, story_time
from wirewatch.errors import ConfigError
from wirewatch.settings import load_settings

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_story_is_dated_by_its_last_sighting() -> None:
    assert story_time({"story_id": "s", "last_seen": NOW.isoformat()}) == NOW
    assert story_time({"story_id": "s"}) is None
    assert story_time("not a mapping") is None


def test_a_posted_alert_is_dated_by_the_first_time_field_it_carries() -> None:
    assert posted_time({"status": "posted", "ts": "1764676800.000100"}) is None  # Slack's id
    stamped = {"status": "posted", "kept_since": NOW.isoformat()}
    assert posted_time(stamped) == NOW
    assert posted_time({"status": "posted", "recorded_at": "2026-12-02T12:00:00"}) == NOW
    assert parse_time("yesterday") is None


def test_retention_follows_the_settings() -> None:
    settings = load_settings(story_window_hours=48, state_expiry_margin_hours=6)
    keep = {policy.name: policy.keep for policy in policies(settings)}
    assert keep == {"stories": timedelta(hours=54), "posted_alerts": timedelta(hours=192)}
    assert settings.table_store == "rocksdb"


def test_posted_alerts_may_not_expire_before_their_stories() -> None:
    with pytest.raises(ConfigError, match="posted_alert_retention_hours"):
        load_settings(story_window_hours=200, posted_alert_retention_hours=100)
