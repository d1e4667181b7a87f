"""From a match and its topic's alert settings to the alerts to post (pure functions).

Routing decides *where* and *whether*: one alert per channel of the topic (the default channel
when the topic names none), nothing while the topic is muted, a mention only when the operator
opted in for the topic's priority (``high``; any but ``low`` with ``mention_any_priority``).
:class:`CooldownPolicy` is the pacing rule per (topic, channel) the alert agent can apply on top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from alerts.model import Alert, EntityItem, EvidenceItem, Priority, make_alert_id


class TopicAlertSettings(BaseModel):
    """A watchlist topic's alert settings (the detection core's model maps onto this one)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channels: tuple[str, ...] = ()
    priority: Priority = "normal"
    mention: str | None = Field(default=None, description="here, channel or subteam^ID (opt-in).")
    mention_any_priority: bool = Field(
        default=False, description="Mention for normal priority too (never for low)."
    )
    muted_until: datetime | None = None
    cooldown: timedelta | None = Field(
        default=None, description="Least time between two alerts of the topic in one channel."
    )


class MatchedArticle(BaseModel):
    """What routing needs from a detection match (the match record maps onto it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    article_id: str
    topic: str
    topic_name: str = ""
    title: str = ""
    link: str = ""
    source: str = ""
    published: datetime | None = None
    snippet: str = ""
    highlights: tuple[str | tuple[int, int], ...] = ()
    evidence: tuple[EvidenceItem, ...] = ()
    entities: tuple[EntityItem, ...] = ()
    watchlist_version: str = ""
    matched_at: datetime | None = None


def is_muted(settings: TopicAlertSettings, now: datetime) -> bool:
    """True while ``settings.muted_until`` lies after ``now``."""
    return settings.muted_until is not None and settings.muted_until > now


def effective_mention(settings: TopicAlertSettings) -> str | None:
    """The mention to render: opted in, and ``high`` priority (or any but ``low`` if allowed).

    The watchlist loader already refuses other combinations; this keeps routing safe whatever
    the settings' origin.
    """
    if not settings.mention or settings.priority == "low":
        return None
    if settings.priority == "high" or settings.mention_any_priority:
        return settings.mention
    return None


def route_match(
    match: MatchedArticle,
    settings: TopicAlertSettings,
    *,
    story_id: str,
    default_channel: str,
    now: datetime,
) -> list[Alert]:
    """One :class:`Alert` per distinct channel of the topic; none while the topic is muted."""
    if is_muted(settings, now):
        return []
    channels = [c.strip() for c in settings.channels if c.strip()] or [default_channel]
    highlights = match.highlights or tuple(e.text for e in match.evidence if e.text)
    return [
        Alert(
            alert_id=make_alert_id(story_id, match.topic, channel),
            story_id=story_id,
            topic=match.topic,
            topic_name=match.topic_name or match.topic,
            channel=channel,
            priority=settings.priority,
            mention=effective_mention(settings),
            title=match.title,
            link=match.link,
            source=match.source,
            published=match.published,
            snippet=match.snippet,
            highlights=highlights,
            evidence=match.evidence,
            entities=match.entities,
            watchlist_version=match.watchlist_version,
            article_id=match.article_id,
            matched_at=match.matched_at or now,
        )
        for channel in dict.fromkeys(channels)
    ]


@dataclass
class CooldownPolicy:
    """At most one alert per (topic, channel) per cooldown, on an injected clock.

    ``allow`` answers without recording; ``record`` notes a post. Alerts refused during a cooldown
    are the caller's to drop, count, or fold into a later digest.
    """

    clock: Callable[[], datetime]
    default: timedelta | None = None
    _last: dict[tuple[str, str], datetime] = field(default_factory=dict, repr=False)

    def allow(self, topic: str, channel: str, cooldown: timedelta | None = None) -> bool:
        """Whether an alert for (topic, channel) may be posted now."""
        window = cooldown if cooldown is not None else self.default
        last = self._last.get((topic, channel))
        if not window or last is None:
            return True
        return self.clock() - last >= window

    def record(self, topic: str, channel: str) -> None:
        """Note that an alert for (topic, channel) was just posted."""
        self._last[(topic, channel)] = self.clock()

    def admit(self, alerts: Sequence[Alert], cooldowns: dict[str, timedelta | None]) -> list[Alert]:
        """The alerts (in order) that pass their topic's cooldown, recording each one admitted."""
        admitted = []
        for alert in alerts:
            if self.allow(alert.topic, alert.channel, cooldowns.get(alert.topic)):
                self.record(alert.topic, alert.channel)
                admitted.append(alert)
        return admitted
