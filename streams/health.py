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
        waiting = self.backlog() if self.backlog is not None else {}
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

    def report(self) -> dict[str, object]:
        """Plain data; ``ok`` is false when delivery is paused (auth) or the stream is stalled."""
        now = self.clock()
        stalled = self.stalled(now)
        return {
            "ok": self.delivery_paused is None and stalled is None,
            "delivery_paused": self.delivery_paused,
            "stalled": stalled,
            "seconds_since_batch": {k: round(now - v, 1) for k, v in self.last_beat.items()},
        }
