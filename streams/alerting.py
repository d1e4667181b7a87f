"""The alert agent's view of the ``alerts`` package: routing a match, muting, delivering.

One small adapter, so the agent speaks in a few verbs (``alerts_for``, ``is_muted``,
``cooldown_for``, ``check_posted``, ``deliver``) and the ``alerts`` package stays free of Kafka
and Faust. The decisions themselves are :class:`alerts.decisions.AlertDecisions`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from alerts.outcomes import DeliveryOutcome, HistoryCheck
from streams.records import MatchV1
from streams.watchlists import ActiveWatchlist
from wirewatch.settings import Settings


class Alerting:
    """Routes matches to alerts under the active watchlist and delivers them."""

    def __init__(
        self, watchlist: ActiveWatchlist, dispatcher: Any, sink: Any, default_channel: str
    ) -> None:
        self._watchlist = watchlist
        self._dispatcher = dispatcher
        self._sink = sink
        self._default_channel = default_channel

    @property
    def verifiable(self) -> bool:
        """True when the sink can read back what Slack has (a bot token with history)."""
        return bool(getattr(self._sink, "can_verify", False))

    @property
    def sink_name(self) -> str:
        """The sink, as logs and health name it (never a secret)."""
        return type(self._sink).__name__

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

    def cooldown_for(self, alert: Any) -> timedelta | None:
        """The cooldown of the alert's topic (None: none, or the topic is gone)."""
        topic = self._topic(alert.topic)
        if topic is None:
            return None
        cooldown = self._alert_settings(topic).cooldown
        return cooldown if isinstance(cooldown, timedelta) else None

    async def replay_check_problem(self) -> str | None:
        """Why a maybe-posted alert could not be checked against Slack, or None when it can."""
        if not self.verifiable:
            return f"{self.sink_name} cannot read what was posted"
        probe = getattr(self._sink, "replay_check_problem", None)
        return await probe() if probe is not None else None

    async def check_posted(
        self, alerts: Sequence[Any], since: dict[str, float]
    ) -> dict[str, HistoryCheck]:
        """Ask Slack's history about ``alerts``, one read per channel.

        ``since`` holds, per alert id, when it was marked pending (epoch seconds): only messages
        from a minute before the oldest of them are read.
        """
        by_channel: dict[str, list[Any]] = {}
        for alert in alerts:
            by_channel.setdefault(alert.channel, []).append(alert)
        checks: dict[str, HistoryCheck] = {}
        for channel, group in by_channel.items():
            marks = [since[a.alert_id] for a in group if a.alert_id in since]
            oldest = min(marks) - 60.0 if marks else None
            check = await self._sink.check_posted(channel, [a.alert_id for a in group], oldest)
            checks.update({a.alert_id: check for a in group})
        return checks

    async def deliver(self, alerts: Sequence[Any]) -> list[DeliveryOutcome]:
        """Deliver through the paced dispatcher; outcomes in input order."""
        outcomes = await self._dispatcher.deliver_batch(list(alerts))
        by_id = {alert.alert_id: outcome for alert, outcome in outcomes}
        return [by_id[alert.alert_id] for alert in alerts]

    def rate_limited(self) -> dict[str, float]:
        """Channels waiting out a Slack rate limit, with seconds waited so far."""
        return dict(self._dispatcher.health().get("rate_limited", {}))


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
