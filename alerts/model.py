"""The alert record: one (story, watched topic, Slack channel), ready to be rendered and delivered.

An :class:`Alert` is plain data (a frozen pydantic model with a JSON round trip) so that it can be
parked in a dead-letter topic, replayed, and rendered again without any other context.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["low", "normal", "high"]


def make_alert_id(story_id: str, topic: str, channel: str) -> str:
    """The deterministic id of the alert for ``(story_id, topic, channel)``.

    The same story for the same topic in the same channel always gets the same id, which is what
    makes a replayed post recognisable (the posted-alerts table, Slack message metadata).
    """
    digest = hashlib.sha256("\x1f".join((story_id, topic, channel)).encode("utf-8"))
    return digest.hexdigest()[:32]


class EvidenceItem(BaseModel):
    """Why the topic matched: the matched text, the article field it was found in, the rule."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    text: str
    field: str = ""
    rule: str = ""


class EntityItem(BaseModel):
    """A named entity of the article (``text`` with its spaCy ``label``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    text: str
    label: str = ""


class Alert(BaseModel):
    """Everything needed to render and deliver one alert to one channel."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    alert_id: str = Field(min_length=1, description="make_alert_id(story_id, topic, channel)")
    story_id: str
    topic: str = Field(description="Topic id in the watchlist.")
    topic_name: str = Field(default="", description="Human name of the topic (header).")
    channel: str = Field(min_length=1, description="Slack channel id or #name.")
    priority: Priority = "normal"
    mention: str | None = Field(
        default=None, description="Operator-set mention: here, channel or subteam^ID."
    )
    title: str = ""
    link: str = ""
    source: str = ""
    published: datetime | None = None
    snippet: str = ""
    highlights: tuple[str | tuple[int, int], ...] = Field(
        default=(), description="Matched strings, or (start, end) offsets into the snippet."
    )
    evidence: tuple[EvidenceItem, ...] = ()
    entities: tuple[EntityItem, ...] = ()
    watchlist_version: str = ""
    article_id: str = ""
    matched_at: datetime | None = None

    def to_json(self) -> bytes:
        """The JSON form (dead letters, replays)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Alert:
        """Parse the JSON form."""
        return cls.model_validate_json(raw)
