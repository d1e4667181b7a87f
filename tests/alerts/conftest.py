"""Fixtures for the alert tests: a fake clock, an alert factory (slack_server: tests/conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.model import Alert, make_alert_id

PUBLISHED = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)


class FakeClock:
    """Monotonic time that only moves when someone sleeps on it (or a test advances it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would
        self.now += max(0.0, seconds)


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


def build_alert(**overrides: Any) -> Alert:
    """A realistic alert; any field can be overridden."""
    fields: dict[str, Any] = {
        "story_id": "story-1",
        "topic": "acme",
        "topic_name": "Acme Corp",
        "channel": "#news",
        "priority": "normal",
        "title": "Acme Corp recalls 10,000 widgets",
        "link": "https://www.example.com/business/acme-recall?id=7&src=rss",
        "source": "Example News",
        "published": PUBLISHED,
        "snippet": "Acme Corp said on Monday it would recall 10,000 widgets after reports of "
        "overheating.",
        "highlights": ("Acme Corp", "recall"),
        "evidence": ({"text": "Acme Corp", "field": "title", "rule": "keyword"},),
        "entities": ({"text": "Acme Corp", "label": "ORG"}, {"text": "Monday", "label": "DATE"}),
        "watchlist_version": "2026-11-26.1",
        "article_id": "https://www.example.com/business/acme-recall",
        "matched_at": PUBLISHED,
    }
    fields.update(overrides)
    fields.setdefault(
        "alert_id", make_alert_id(fields["story_id"], fields["topic"], fields["channel"])
    )
    return Alert(**fields)


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    """The alert factory as a fixture."""
    return build_alert
