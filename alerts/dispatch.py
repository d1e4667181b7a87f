"""Paced delivery of alert batches: per channel in order, channels in parallel, bursts folded.

:class:`AlertDispatcher` is what the alert agent calls. For each batch it groups alerts by channel
(keeping their order), renders them (one message per alert, or digests when a channel gets more
than ``digest_threshold`` alerts at once), and sends each channel's messages at most one per
``per_channel_interval`` seconds on an injected clock, the pace state surviving across batches.

Outcomes follow :mod:`alerts.outcomes`. A channel error parks the rest of that channel's batch
without more calls; an authentication error pauses *all* delivery: later messages come back
``AUTH_PAUSED`` unsent (the caller keeps them), and while paused only one probe post is attempted
per ``auth_probe_interval``, so a revoked token never causes a retry storm.

A rate limit (429) holds its channel, never drops: the dispatcher waits ``Retry-After`` (growing
waits when the header is missing) and sends the same message again, for as long as it lasts, while
the other channels of the batch go on; the batch, and so the stream, waits for it (back-pressure).
A message left ``UNCERTAIN`` or ``HELD`` stops its channel for this batch: later messages come back
``HELD`` unsent, so the channel's order is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from alerts.formatting import (
    DIGEST_MAX_ITEMS,
    SlackMessage,
    digest_chunks,
    render_alert,
    render_digest,
)
from alerts.model import Alert
from alerts.outcomes import DeliveryOutcome, OutcomeKind
from alerts.sinks import Sink

if TYPE_CHECKING:
    from wirewatch.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Unit:
    """One message to send and the alerts it carries."""

    alerts: list[Alert]
    message: SlackMessage | None
    render_error: str = ""
    digest: bool = False


class AlertDispatcher:
    """Delivers batches of alerts through a sink, paced per channel, bursts folded into digests."""

    def __init__(
        self,
        sink: Sink,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        per_channel_interval: float = 1.0,
        digest_threshold: int = 5,
        digest_max_items: int = DIGEST_MAX_ITEMS,
        auth_probe_interval: float = 30.0,
    ) -> None:
        self.sink = sink
        self._clock = clock
        self._sleep = sleep
        self.per_channel_interval = per_channel_interval
        self.digest_threshold = max(1, digest_threshold)
        self.digest_max_items = max(1, min(digest_max_items, DIGEST_MAX_ITEMS))
        self.auth_probe_interval = auth_probe_interval
        self._next_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._paused: str | None = None
        self._paused_at = 0.0
        self.counts: Counter[str] = Counter()
        self.messages_sent = 0
        self._last: dict[str, DeliveryOutcome] = {}
        # Channels waiting out a rate limit now: channel -> clock time the wait began.
        self.rate_limited_since: dict[str, float] = {}
        self._rate_limit_streak: dict[str, int] = {}

    @property
    def paused(self) -> bool:
        """True while authentication failures have paused delivery."""
        return self._paused is not None

    def resume(self) -> None:
        """Lift an authentication pause (e.g. after the token was replaced)."""
        self._paused = None

    def health(self) -> dict[str, Any]:
        """State for the health check: red while paused, with per-channel last outcomes."""
        return {
            "status": "red" if self.paused else "green",
            "paused": self.paused,
            "reason": self._paused,
            "messages_sent": self.messages_sent,
            "alerts": dict(self.counts),
            "channels": {
                channel: {"last": outcome.kind.value, "reason": outcome.reason}
                for channel, outcome in self._last.items()
            },
            "rate_limited": {
                channel: round(self._clock() - since, 1)
                for channel, since in self.rate_limited_since.items()
            },
        }

    async def deliver_batch(self, alerts: Sequence[Alert]) -> list[tuple[Alert, DeliveryOutcome]]:
        """Deliver ``alerts``; one ``(alert, outcome)`` per alert, in input order."""
        by_channel: dict[str, list[int]] = {}
        for index, alert in enumerate(alerts):
            by_channel.setdefault(alert.channel, []).append(index)
        outcomes: list[DeliveryOutcome | None] = [None] * len(alerts)

        async def run(channel: str, indexes: list[int]) -> None:
            channel_outcomes = await self._deliver_channel(channel, [alerts[i] for i in indexes])
            for i, outcome in zip(indexes, channel_outcomes, strict=True):
                outcomes[i] = outcome

        if self._paused is not None:
            if self._clock() - self._paused_at < self.auth_probe_interval:
                paused = DeliveryOutcome.auth_paused(self._paused)
                self.counts[OutcomeKind.AUTH_PAUSED.value] += len(alerts)
                return [(alert, paused) for alert in alerts]
            # Probe: channels one after another, so a still-broken token costs one request.
            self._paused_at = self._clock()
            self._paused = None
            for channel, indexes in by_channel.items():
                await run(channel, indexes)
        else:
            await asyncio.gather(*(run(c, ix) for c, ix in by_channel.items()))
        done = [o if o is not None else DeliveryOutcome.held("not_attempted") for o in outcomes]
        for outcome in done:
            self.counts[outcome.kind.value] += 1
        return list(zip(alerts, done, strict=True))

    # --- one channel ----------------------------------------------------------------------------

    def _units(self, alerts: list[Alert]) -> list[_Unit]:
        if len(alerts) > self.digest_threshold:
            chunks = digest_chunks(alerts, self.digest_max_items)
            return [self._render(chunk, digest=True) for chunk in chunks]
        return [self._render([alert], digest=False) for alert in alerts]

    @staticmethod
    def _render(alerts: list[Alert], *, digest: bool) -> _Unit:
        try:
            if digest:
                return _Unit(alerts, render_digest(alerts, alerts[0].channel), digest=True)
            return _Unit(alerts, render_alert(alerts[0]))
        except Exception as exc:  # a rendering bug must not stop the channel
            log.exception("cannot render alert %s", alerts[0].alert_id)
            return _Unit(alerts, None, f"render_error: {type(exc).__name__}")

    async def _deliver_channel(self, channel: str, alerts: list[Alert]) -> list[DeliveryOutcome]:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        outcomes: list[DeliveryOutcome] = []
        async with lock:
            stop: DeliveryOutcome | None = None
            for unit in self._units(alerts):
                if unit.message is None:
                    outcome = DeliveryOutcome.failed(unit.render_error)
                elif self._paused is not None:
                    outcome = DeliveryOutcome.auth_paused(self._paused)
                elif stop is not None:
                    outcome = stop
                else:
                    outcome = await self._send_through_rate_limits(channel, unit)
                    if outcome.kind is OutcomeKind.PARKED:
                        stop = outcome
                    elif outcome.kind in (OutcomeKind.UNCERTAIN, OutcomeKind.HELD):
                        # Later messages wait behind this one, so the channel's order holds.
                        stop = DeliveryOutcome.held(f"not attempted: {outcome.reason}")
                if unit.digest:
                    outcome = replace(outcome, digest=True)
                outcomes.extend(outcome for _ in unit.alerts)
        return outcomes

    async def _send_through_rate_limits(self, channel: str, unit: _Unit) -> DeliveryOutcome:
        """Send ``unit``; on 429 wait and send it again, for as long as the rate limit lasts."""
        outcome = await self._send(channel, unit)
        waits = 0
        while outcome.kind is OutcomeKind.RATE_LIMITED:
            if waits == 0:
                self.rate_limited_since[channel] = self._clock()
                log.warning("slack rate limits %s: holding its alerts until it lifts", channel)
            waits += 1
            outcome = await self._send(channel, unit)  # _send waits out Retry-After first
        if waits:
            since = self.rate_limited_since.pop(channel, self._clock())
            log.info("rate limit on %s lifted after %.0fs", channel, self._clock() - since)
        return outcome

    async def _send(self, channel: str, unit: _Unit) -> DeliveryOutcome:
        assert unit.message is not None
        wait = self._next_at.get(channel, float("-inf")) - self._clock()
        if wait > 0:
            await self._sleep(wait)
        if self._paused is not None:  # another channel hit an auth error while we waited
            return DeliveryOutcome.auth_paused(self._paused)
        try:
            outcome = await self.sink.send(
                unit.message, channel, [alert.alert_id for alert in unit.alerts]
            )
        except Exception as exc:  # a sink must not raise; if one does, the channel carries on
            log.error("sink raised %s delivering to %s", type(exc).__name__, channel)
            outcome = DeliveryOutcome.failed(f"sink_error: {type(exc).__name__}")
        self.messages_sent += 1
        pause = self.per_channel_interval + (outcome.retry_after or 0.0)
        if outcome.kind is OutcomeKind.RATE_LIMITED and outcome.retry_after is None:
            # No Retry-After: wait a little longer each time, capped, never a tight loop.
            streak = self._rate_limit_streak.get(channel, 0)
            self._rate_limit_streak[channel] = streak + 1
            pause += min(30.0, 2.0**streak)
        else:
            self._rate_limit_streak.pop(channel, None)
        self._next_at[channel] = self._clock() + pause
        self._last[channel] = outcome
        if outcome.kind is OutcomeKind.AUTH_PAUSED and self._paused is None:
            log.error("slack authentication failed (%s): delivery paused", outcome.reason)
            self._paused = outcome.reason
            self._paused_at = self._clock()
        return outcome


def make_dispatcher(
    settings: Settings,
    sink: Sink,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> AlertDispatcher:
    """A dispatcher paced and folded as the settings say (``WIREWATCH_SLACK_*``)."""
    return AlertDispatcher(
        sink,
        clock=clock,
        sleep=sleep,
        per_channel_interval=settings.slack_pace_seconds,
        digest_threshold=settings.slack_digest_threshold,
        auth_probe_interval=settings.slack_auth_probe_seconds,
    )
