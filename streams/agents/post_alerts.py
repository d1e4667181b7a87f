"""``post_alerts``: matches in, Slack posts out, exactly one per (story, topic, channel).

Matches are keyed by topic, so one partition owns each topic's stories and posted-alert records.
For each batch: assign story ids, route to channels, drop what the ``posted_alerts`` table already
holds, mark the rest pending (flushed to the changelog before Slack is called), deliver through the
dispatcher, record the outcome, flush, and only then let the batch be acknowledged. A crash between
a post and its record leaves a pending mark; the replay asks the sink whether Slack already has the
alert before posting again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from faust.streams import _current_event
from pydantic import ValidationError

from streams.agents import raw_topic
from streams.dead_letters import dead_letter
from streams.records import AlertOutcomeV1, MatchV1
from streams.stories import StoryEntry, StoryIndex

if TYPE_CHECKING:
    import faust

    from streams.runtime import Runtime

log = logging.getLogger(__name__)
_AUTH_RETRY_SECONDS = 30.0


@contextlib.contextmanager
def writes_for(event: Any) -> Iterator[None]:
    """Make table writes go to ``event``'s partition.

    Faust routes a table write to the changelog partition of the *current* event; inside a
    ``take_events`` batch that is whichever event came last, which may belong to another
    partition. Setting it per event keeps each record with the partition that owns it.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def register(app: faust.App, runtime: Runtime) -> Any:
    """Attach the agent and its tables to ``app``; returns the agent."""
    settings, names = runtime.settings, runtime.topics
    matches = raw_topic(app, names.matches)
    outcomes_topic = raw_topic(app, names.alert_outcomes)
    dead_letters = raw_topic(app, names.alerts_dead_letters)
    posted_alerts = app.Table("posted_alerts", default=None, partitions=settings.topic_partitions)
    stories = app.Table("stories", default=None, partitions=settings.topic_partitions)
    window = timedelta(hours=settings.story_window_hours)
    indexes: dict[str, StoryIndex] = {}

    @app.on_partitions_revoked.connect
    async def forget_indexes(*_: Any, **__: Any) -> None:
        # After a rebalance this worker may own other topics; rebuild from the tables.
        indexes.clear()

    def index_for(topic: str) -> StoryIndex:
        index = indexes.get(topic)
        if index is None:
            index = StoryIndex(window=window, threshold=settings.story_similarity)
            prefix = f"{topic}|"
            for key, value in stories.items():
                if isinstance(key, str) and key.startswith(prefix) and value:
                    entry = StoryEntry.from_dict(value)
                    index.entries[entry.story_id] = entry
            indexes[topic] = index
        return index

    async def record_outcome(
        alert: Any, outcome: str, detail: str = "", slack_ts: str | None = None
    ) -> None:
        record = AlertOutcomeV1(
            alert_id=alert.alert_id,
            story_id=alert.story_id,
            topic=alert.topic,
            channel=alert.channel,
            article_id=alert.article_id,
            outcome=outcome,
            detail=detail,
            slack_ts=slack_ts,
            watchlist_version=alert.watchlist_version,
            decided_at=datetime.now(UTC),
        )
        await outcomes_topic.send(key=alert.alert_id.encode(), value=record.to_json())
        runtime.metrics.alert(outcome)
        if outcome in ("posted", "digested"):
            since = record.decided_at - alert.matched_at if alert.matched_at else None
            runtime.metrics.posted(alert.channel, since and since.total_seconds())

    async def park(alert: Any, event: Any, kind: str, reason: str) -> None:
        record = dead_letter(
            "alert",
            kind,
            reason,
            alert.model_dump_json().encode(),
            datetime.now(UTC),
            event.message,
        )
        await dead_letters.send(key=alert.alert_id.encode(), value=record.to_json())
        runtime.metrics.dead_lettered("alert", kind)

    async def admit(alert: Any, now: datetime, pending: list[tuple[Any, Any]]) -> bool:
        """Whether to deliver ``alert``; when not, record why (an outcome per decision)."""
        state = posted_alerts.get(alert.alert_id) or {}
        if state.get("status") == "posted":
            await record_outcome(alert, "duplicate")
            return False
        if any(queued.alert_id == alert.alert_id for _, queued in pending):
            await record_outcome(alert, "duplicate", "same batch")
            return False
        if runtime.alerting.is_muted(alert, now):
            await record_outcome(alert, "muted")
            return False
        if not runtime.alerting.cooldown_allows(alert, now):
            await record_outcome(alert, "cooldown")
            return False
        # A pending mark means a crash between post and record: ask Slack before posting again.
        if state.get("status") == "pending" and await runtime.alerting.already_posted(alert):
            posted_alerts[alert.alert_id] = {"status": "posted", "ts": None}
            await record_outcome(alert, "duplicate", "found in Slack on replay")
            return False
        return True

    @app.agent(matches, name="post_alerts", concurrency=1)
    async def post_alerts(stream: Any) -> None:
        async for events in stream.take_events(
            settings.detect_batch_size, within=settings.detect_batch_seconds
        ):
            now = datetime.now(UTC)
            pending: list[tuple[Any, Any]] = []  # (event, alert)
            for event in events:
                try:
                    match = MatchV1.from_json(event.value)
                except (ValidationError, ValueError, TypeError) as exc:
                    record = dead_letter(
                        "alert", "invalid_record", str(exc), event.value, now, event.message
                    )
                    await dead_letters.send(key=event.message.key, value=record.to_json())
                    runtime.metrics.dead_lettered("alert", "invalid_record")
                    continue
                with writes_for(event):
                    story, _ = index_for(match.topic).assign(
                        match.link, match.title, match.summary, now
                    )
                    stories[f"{match.topic}|{story.story_id}"] = story.to_dict()
                    for alert in runtime.alerting.alerts_for(match, story.story_id, now):
                        if await admit(alert, now, pending):
                            posted_alerts[alert.alert_id] = {"status": "pending"}
                            runtime.alerting.note_posted(alert, now)
                            pending.append((event, alert))
            # The pending marks reach the changelog before Slack is called.
            await app.producer.flush()
            while pending:
                results = await runtime.alerting.deliver([alert for _, alert in pending])
                retry: list[tuple[Any, Any]] = []
                for (event, alert), result in zip(pending, results, strict=True):
                    with writes_for(event):
                        if result.kind in ("posted", "digested"):  # digested: posted in a digest
                            posted_alerts[alert.alert_id] = {"status": "posted", "ts": result.ts}
                            await record_outcome(alert, result.kind, result.detail, result.ts)
                        elif result.kind == "paused":
                            retry.append((event, alert))
                        else:  # parked or failed: dead-letter with the reason
                            posted_alerts[alert.alert_id] = {"status": result.kind}
                            await park(alert, event, result.kind, result.detail)
                            await record_outcome(alert, result.kind, result.detail)
                pending = retry
                if pending:
                    # Authentication failed: hold the batch (unacknowledged) instead of losing
                    # it or hammering Slack; health is red meanwhile.
                    runtime.health.delivery_paused = results[0].detail or "authentication failed"
                    runtime.metrics.delivery_held("auth", True)
                    await asyncio.sleep(_AUTH_RETRY_SECONDS)
                else:
                    runtime.health.delivery_paused = None
                    runtime.metrics.delivery_held("auth", False)
            await app.producer.flush()
            runtime.health.beat("alert")

    return post_alerts
