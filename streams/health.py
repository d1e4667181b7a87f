"""Worker health: what `wirewatch healthcheck` and the /health endpoint report."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class WorkerHealth:
    """Liveness of each stage plus the reasons the worker cannot do its job."""

    clock: Callable[[], float] = time.monotonic
    last_beat: dict[str, float] = field(default_factory=dict)
    delivery_paused: str | None = None
    # Alerts held (not lost) for a reason that is not a fault of the worker: Slack down, a
    # maybe-posted alert Slack's history cannot settle yet. Health amber, not red.
    delivery_held: str | None = None
    # Why a maybe-posted alert cannot be checked against Slack (start-up probe); None: it can.
    replay_check: str | None = None
    # A sink that cannot check by design (webhook, console): said, but not amber.
    replay_check_note: str | None = None
    # Channels waiting out a Slack rate limit (``Alerting.rate_limited``): seconds so far.
    rate_limited: Callable[[], Mapping[str, float]] | None = None
    # Records waiting on this worker's partitions, per stage (``streams.lag``); None: not measured.
    backlog: Callable[[], Mapping[str, int]] | None = None
    stall_seconds: float = 300.0
    started: float | None = None

    def __post_init__(self) -> None:
        if self.started is None:
            self.started = self.clock()

    def stalled(self, now: float) -> str | None:
        """Why the stream counts as stalled: a stage with work waiting and no batch for a while.

        Each stage is judged on its own batches, so a stuck alert agent shows even while
        detection keeps running. An idle stage (nothing waiting) is never stalled.
        """
        waiting = dict(self.backlog() if self.backlog is not None else {})
        if self.delivery_held or self._rate_limited():
            waiting.pop("alert", None)  # waiting on Slack for a known reason, not stuck
        reasons = []
        for stage, count in sorted(waiting.items()):
            last = self.last_beat.get(stage, self.started or now)
            if count > 0 and now - last > self.stall_seconds:
                reasons.append(
                    f"{stage}: {count} records waiting and no batch finished for {now - last:.0f}s"
                )
        return "; ".join(reasons) or None

    def beat(self, stage: str) -> None:
        """A stage finished a batch."""
        self.last_beat[stage] = self.clock()

    def _rate_limited(self) -> dict[str, float]:
        return dict(self.rate_limited()) if self.rate_limited is not None else {}

    def report(self) -> dict[str, object]:
        """Plain data; ``ok`` is false when delivery is paused (auth) or the stream is stalled.

        ``status`` is red when not ok, amber while alerts are held or rate limited or the replay
        check is unavailable (nothing lost, but an operator should know), else green.
        """
        now = self.clock()
        stalled = self.stalled(now)
        ok = self.delivery_paused is None and stalled is None
        rate_limited = self._rate_limited()
        amber = self.delivery_held or self.replay_check or rate_limited
        return {
            "ok": ok,
            "status": "red" if not ok else "amber" if amber else "green",
            "delivery_paused": self.delivery_paused,
            "delivery_held": self.delivery_held,
            "replay_check": self.replay_check or self.replay_check_note or "available",
            "rate_limited_channels": rate_limited,
            "stalled": stalled,
            "seconds_since_batch": {k: round(now - v, 1) for k, v in self.last_beat.items()},
        }
