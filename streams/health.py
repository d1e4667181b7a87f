"""Worker health: what `wirewatch healthcheck` and the /health endpoint report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class WorkerHealth:
    """Liveness of each stage plus the reasons the worker cannot do its job."""

    clock: Callable[[], float] = time.monotonic
    last_beat: dict[str, float] = field(default_factory=dict)
    delivery_paused: str | None = None

    def beat(self, stage: str) -> None:
        """A stage finished a batch."""
        self.last_beat[stage] = self.clock()

    def report(self) -> dict[str, object]:
        """Plain data; ``ok`` is false when delivery is paused by an authentication error."""
        now = self.clock()
        return {
            "ok": self.delivery_paused is None,
            "delivery_paused": self.delivery_paused,
            "seconds_since_batch": {k: round(now - v, 1) for k, v in self.last_beat.items()},
        }
