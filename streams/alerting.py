"""The alert agent's view of the ``alerts`` package: routing a match, muting, delivering.

One small adapter, so the agent speaks in three verbs (``alerts_for``, ``deliver``,
``already_posted``) and the ``alerts`` package stays free of Kafka and Faust.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.records import MatchV1
from streams.watchlists import ActiveWatchlist
from wirewatch.settings import Settings


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one alert: posted (alone or in a digest), paused, parked or failed."""

    kind: str
    ts: str | None = None
    detail: str = ""


class Alerting:
    """Routes matches to alerts under the active watchlist and delivers them."""

    def __init__(
        self, watchlist: ActiveWatchlist, dispatcher: Any, sink: Any, default_channel: str
    ) -> None:
        self._watchlist = watchlist
        self._dispatcher = dispatcher
        self._sink = sink
        self._default_channel = default_channel
        self._last_posted: dict[tuple[str, str], datetime] = {}

    def alerts_for(self, match: MatchV1, story_id: str, now: datetime) -> list[Any]:
        """One alert per channel the match's topic routes to (none if the topic is gone)."""
        from alerts.model import EntityItem, EvidenceItem
        from alerts.routing import MatchedArticle, route_match

        topic = self._topic(match.topic)
        if topic is None:
            return []
        article = MatchedArticle(
            article_id=match.article_id,
            topic=match.topic,
            topic_name=getattr(topic, "name", None) or match.topic,
            title=match.title,
            link=match.link,
            source=match.source,
            published=match.published,
            snippet=match.snippet,
            evidence=tuple(
                EvidenceItem(text=e.text, field=e.field, rule=e.rule) for e in match.evidence
            ),
            entities=tuple(EntityItem(text=e.text, label=e.label) for e in match.entities),
            watchlist_version=match.watchlist_version,
            matched_at=match.matched_at,
        )
        # Muting is decided by the caller (it records a "muted" outcome), so route unmuted here.
        settings = self._alert_settings(topic).model_copy(update={"muted_until": None})
        return route_match(
            article, settings, story_id=story_id, default_channel=self._default_channel, now=now
        )

    def _alert_settings(self, topic: Any) -> Any:
        from alerts.routing import TopicAlertSettings

        alert = topic.alert
        data = alert.model_dump() if hasattr(alert, "model_dump") else dict(vars(alert))
        return TopicAlertSettings.model_validate(data)

    def _topic(self, topic_id: str) -> Any:
        for topic in self._watchlist.current.watchlist.topics:
            if topic.id == topic_id:
                return topic
        return None

    def is_muted(self, alert: Any, now: datetime) -> bool:
        """True while the alert's topic is muted by the watchlist."""
        from alerts.routing import is_muted

        topic = self._topic(alert.topic)
        return topic is not None and is_muted(self._alert_settings(topic), now)

    def cooldown_allows(self, alert: Any, now: datetime) -> bool:
        """False while the topic's cooldown for this channel runs (operators asked for quiet)."""
        topic = self._topic(alert.topic)
        cooldown = self._alert_settings(topic).cooldown if topic is not None else None
        last = self._last_posted.get((alert.topic, alert.channel))
        return not cooldown or last is None or now - last >= cooldown

    def note_posted(self, alert: Any, now: datetime) -> None:
        """Start the cooldown of the alert's (topic, channel)."""
        self._last_posted[(alert.topic, alert.channel)] = now

    async def already_posted(self, alert: Any) -> bool:
        """Whether Slack already shows this alert (replay after a crash between post and record)."""
        find_posted = getattr(self._sink, "find_posted", None)
        if find_posted is None:
            return False
        found = await find_posted(alert.channel, [alert.alert_id], None)
        return alert.alert_id in found

    async def deliver(self, alerts: Sequence[Any]) -> list[DeliveryResult]:
        """Deliver through the paced dispatcher; results in input order."""
        outcomes = await self._dispatcher.deliver_batch(list(alerts))
        by_id = {alert.alert_id: outcome for alert, outcome in outcomes}
        return [_result(by_id[alert.alert_id]) for alert in alerts]


def _result(outcome: Any) -> DeliveryResult:
    kind = str(outcome.kind.value)
    mapped = {"posted": "posted", "auth_paused": "paused", "parked": "parked"}.get(kind, "failed")
    if mapped == "posted" and outcome.digest:
        mapped = "digested"
    return DeliveryResult(mapped, outcome.ts, outcome.reason)


def make_alerting(
    settings: Settings,
    watchlist: ActiveWatchlist,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
) -> Alerting:
    """The alerting adapter over the sink the settings choose (console when no credentials).

    ``sleep`` is the dispatcher's wait (pacing, ``Retry-After``): the worker passes one that
    counts the waits (``streams.metrics.metered_sleep``).
    """
    import asyncio

    from alerts.dispatch import make_dispatcher
    from alerts.sinks import make_sink

    sink = make_sink(settings, verbose=settings.console_verbose)
    return Alerting(
        watchlist,
        make_dispatcher(settings, sink, sleep=sleep or asyncio.sleep),
        sink,
        settings.slack_default_channel,
    )
