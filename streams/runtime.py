"""What the agents share inside one worker process, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.health import WorkerHealth
from streams.metrics import WorkerMetrics
from streams.topics import TopicNames
from streams.watchlists import ActiveWatchlist
from wirewatch.settings import Settings


@dataclass
class Runtime:
    """Settings, topic names, the active watchlist, detection pool, alert delivery, telemetry."""

    settings: Settings
    topics: TopicNames
    watchlist: ActiveWatchlist
    pool: Any  # streams.detection_pool.DetectionPool (or a test double with .detect)
    alerting: Any  # streams.alerting.Alerting
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    health: WorkerHealth = field(default_factory=WorkerHealth)

    def __post_init__(self) -> None:
        # wirewatch_worker_healthy says at each scrape what /health would answer.
        self.metrics.watch_health(lambda: self.health.report())
