"""``post_alerts``: matches in, Slack posts out, exactly one per (story, topic, channel).

Matches are keyed by topic, so one partition owns each topic's stories and posted-alert records.
The agent is an adapter: it loads the stored record of each alert, asks the decision core
(:class:`alerts.decisions.AlertDecisions`) what to do, and carries it out: record an outcome,
park in dead letters, ask Slack's history, or mark pending (flushed to the changelog before Slack
is called), deliver and record. Alerts that cannot be settled now (authentication failure, Slack
down, a maybe-posted alert whose history cannot be read) are held: the batch stays
unacknowledged and is retried every ``slack_hold_seconds``, which also holds back the stream.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from alerts.decisions import Action, AlertDecisions, Decision
from streams.agents import raw_topic
from streams.crash_points import crash_point
from streams.dead_letters import REPLAY_HEADER, dead_letter
from streams.faust_internals import writes_for
from streams.records import AlertOutcomeV1, MatchV1
from streams.stories import StoryEntry, StoryIndex

if TYPE_CHECKING:
    import faust

    from streams.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class _Item:
    """One alert of the batch being worked on, with the event it came from."""

    event: Any
    alert: Any
    replayed: bool  # republished by an operator from the dead letters
    unsent: bool = False  # known (in this process) not to be in Slack


def _replayed(event: Any) -> bool:
    headers = getattr(event.message, "headers", None) or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return any(name == REPLAY_HEADER for name, _ in pairs)


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
    decisions = AlertDecisions(
        verifiable=runtime.alerting.verifiable, pending_replay=settings.slack_pending_replay
    )
    runtime.health.rate_limited = runtime.alerting.rate_limited

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

    async def park(item: _Item, decision: Decision) -> None:
        alert = item.alert
        kind = decision.reason or decision.outcome
        record = dead_letter(
            "alert",
            kind,
            decision.detail,
            item.event.value,  # the match: a replay goes through the whole alert path again
            datetime.now(UTC),
            item.event.message,
        ).model_copy(update={"key": alert.alert_id, "channel": alert.channel})
        await dead_letters.send(key=alert.alert_id.encode(), value=record.to_json())
        # The record names the reason; the metric keeps to its declared kinds (parked, failed).
        runtime.metrics.dead_lettered("alert", decision.outcome)

    async def carry_out(item: _Item, decision: Decision) -> None:
        """Store, record and park as ``decision`` says (SKIP and PARK end the alert here)."""
        alert = item.alert
        with writes_for(item.event):
            if decision.state is not None:
                posted_alerts[alert.alert_id] = decision.state
            if decision.action is Action.PARK:
                await park(item, decision)
            if decision.action in (Action.SKIP, Action.PARK):
                await record_outcome(alert, decision.outcome, decision.detail, decision.ts)

    def admit(item: _Item, now: datetime) -> Decision:
        alert = item.alert
        return decisions.admit(
            alert,
            posted_alerts.get(alert.alert_id),
            now,
            muted=runtime.alerting.is_muted(alert, now),
            cooldown=runtime.alerting.cooldown_for(alert),
            unsent=item.unsent,
            operator_replay=item.replayed,
        )

    async def settle(work: list[_Item]) -> list[_Item]:
        """One round: decide, check, send, record; returns what waits (held, deferred)."""
        now = datetime.now(UTC)
        decisions.begin_round()
        to_send: list[_Item] = []
        to_check: list[_Item] = []
        later: list[_Item] = []
        held: list[tuple[_Item, Decision]] = []
        for item in work:
            decision = admit(item, now)
            if decision.action is Action.POST:
                if decision.detail:  # e.g. an unverifiable replay posted again, as configured
                    log.warning("alert %s: %s", item.alert.alert_id, decision.detail)
                to_send.append(item)
            elif decision.action is Action.CHECK_THEN_POST:
                to_check.append(item)
            elif decision.action is Action.DEFER:
                later.append(item)
            else:
                await carry_out(item, decision)
        if to_check:
            since = {
                i.alert.alert_id: (posted_alerts.get(i.alert.alert_id) or {}).get("since", 0.0)
                for i in to_check
            }
            checks = await runtime.alerting.check_posted([i.alert for i in to_check], since)
            for item in to_check:
                decision = decisions.after_check(item.alert, checks[item.alert.alert_id], now)
                log.info("replay check of alert %s: %s", item.alert.alert_id, decision.detail)
                if decision.action is Action.POST:
                    to_send.append(item)
                elif decision.action is Action.HOLD:
                    held.append((item, decision))
                else:
                    await carry_out(item, decision)
        for item in to_send:
            with writes_for(item.event):
                state = posted_alerts.get(item.alert.alert_id)
                posted_alerts[item.alert.alert_id] = decisions.pending(state, now)
        # The pending marks reach the changelog before Slack is called.
        await app.producer.flush()
        if to_send:
            crash_point(settings.test_crash_at, "after_pending")
        outcomes = await runtime.alerting.deliver([i.alert for i in to_send]) if to_send else []
        if any(outcome.ok for outcome in outcomes):
            crash_point(settings.test_crash_at, "after_accepted")
        for item, outcome in zip(to_send, outcomes, strict=True):
            decision = decisions.after_delivery(item.alert, outcome, datetime.now(UTC))
            if decision.action is Action.HOLD:
                held.append((item, decision))
            else:
                await carry_out(item, decision)
        await app.producer.flush()
        if any(outcome.ok for outcome in outcomes):
            crash_point(settings.test_crash_at, "after_posted")
        for item, decision in held:
            item.unsent = decision.unsent
        hold(held)
        # Keep the batch's order: held and deferred alerts are decided again, in order.
        waiting = {id(item) for item, _ in held} | {id(item) for item in later}
        return [item for item in work if id(item) in waiting]

    def hold(held: list[tuple[_Item, Decision]]) -> None:
        """Show in health why alerts are held (red for authentication, amber otherwise)."""
        auth = [d.detail for _, d in held if d.hold == "auth"]
        other = [d.detail for _, d in held if d.hold != "auth"]
        runtime.health.delivery_paused = (auth[0] or "authentication failed") if auth else None
        runtime.metrics.delivery_held("auth", bool(auth))
        unchecked = any(d.hold == "uncertain" for _, d in held)
        runtime.metrics.delivery_held("replay_check_unavailable", unchecked)
        if other:
            reason = f"{len(other)} alert(s) held: {other[0]}"
            if reason != runtime.health.delivery_held:
                log.warning("%s; retrying every %ss", reason, settings.slack_hold_seconds)
            runtime.health.delivery_held = reason
        else:
            runtime.health.delivery_held = None

    @app.task
    async def check_replay_at_startup() -> None:
        problem = await runtime.alerting.replay_check_problem()
        if problem is None:
            log.info("replay check available: maybe-posted alerts are checked in Slack's history")
            return
        if runtime.alerting.verifiable:
            runtime.health.replay_check = f"unavailable: {problem}"
            log.warning(
                "replay check unavailable (%s): an alert that may have been posted will be "
                "held, not posted again, until Slack's history can be read",
                problem,
            )
        else:
            runtime.health.replay_check_note = f"not possible: {problem}"
            log.warning(
                "replay check not possible (%s): an alert that may have been posted is %s "
                "(WIREWATCH_SLACK_PENDING_REPLAY)",
                problem,
                "posted again" if settings.slack_pending_replay == "post" else "parked",
            )

    @app.agent(matches, name="post_alerts", concurrency=1)
    async def post_alerts(stream: Any) -> None:
        async for events in stream.take_events(
            settings.detect_batch_size, within=settings.detect_batch_seconds
        ):
            now = datetime.now(UTC)
            work: list[_Item] = []
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
                        if any(item.alert.alert_id == alert.alert_id for item in work):
                            await record_outcome(alert, "duplicate", "same batch")
                            continue
                        work.append(_Item(event, alert, _replayed(event)))
            while work:
                work = await settle(work)
                if runtime.health.delivery_paused or runtime.health.delivery_held:
                    # Held: keep the batch (unacknowledged) instead of losing it or hammering
                    # Slack; health shows why meanwhile.
                    await asyncio.sleep(settings.slack_hold_seconds)
            hold([])
            await app.producer.flush()
            runtime.health.beat("alert")

    return post_alerts
