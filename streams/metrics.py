"""Prometheus metrics of the worker: one registry per process, served on the worker's web port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Alert outcomes are pre-declared so every series exists (at 0) from the first scrape: an alert
# rule on ``rate(wirewatch_alerts_total{outcome="failed"}[5m])`` must not wait for a first failure.
ALERT_OUTCOMES = ("posted", "duplicate", "muted", "cooldown", "parked", "failed", "digested")

LagSource = Callable[[], Mapping[tuple[str, int], int]]


class ConsumerLagCollector(Collector):
    """``wirewatch_consumer_lag``: records behind, per input partition, read at scrape time."""

    def __init__(self) -> None:
        self.source: LagSource | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge sample per (topic, partition) this worker owns."""
        family = GaugeMetricFamily(
            "wirewatch_consumer_lag",
            "Records on the partitions this worker owns not yet processed and committed.",
            labels=["topic", "partition"],
        )
        for (topic, partition), lag in sorted((self.source or dict)().items()):
            family.add_metric([topic, str(partition)], lag)
        yield family


class WorkerMetrics:
    """The worker's series; names are part of the operations contract (see deploy/README.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.articles_detected = Counter(
            "wirewatch_articles_detected_total",
            "Articles run through detection.",
            registry=self.registry,
        )
        self.detection_seconds = Histogram(
            "wirewatch_detection_batch_seconds",
            "Wall time of one detection batch.",
            registry=self.registry,
        )
        self.matches = Counter(
            "wirewatch_matches_total",
            "Matches emitted, by watched topic.",
            ["topic"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "wirewatch_alerts_total",
            "Alert decisions by outcome: " + ", ".join(ALERT_OUTCOMES) + ".",
            ["outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "wirewatch_dead_letters_total",
            "Records sent to a dead-letter topic.",
            ["stage", "kind"],
            registry=self.registry,
        )
        for outcome in ALERT_OUTCOMES:
            self.alerts.labels(outcome=outcome)
        self.slack_rate_limit_waits = Counter(
            "wirewatch_slack_rate_limit_waits_total",
            "Times Slack answered 429 (or pacing held a post back) and delivery waited.",
            registry=self.registry,
        )
        self.slack_rate_limit_wait_seconds = Counter(
            "wirewatch_slack_rate_limit_wait_seconds_total",
            "Seconds spent waiting for Slack rate limits.",
            registry=self.registry,
        )
        self.lag = ConsumerLagCollector()
        self.registry.register(self.lag)

    def detected(self, count: int, seconds: float) -> None:
        """A detection batch finished."""
        self.articles_detected.inc(count)
        self.detection_seconds.observe(seconds)

    def matched(self, topic: str) -> None:
        """A match was emitted."""
        self.matches.labels(topic=topic).inc()

    def alert(self, outcome: str, count: int = 1) -> None:
        """Alert decisions were made."""
        self.alerts.labels(outcome=outcome).inc(count)

    def dead_lettered(self, stage: str, kind: str) -> None:
        """A record was dead-lettered."""
        self.dead_letters.labels(stage=stage, kind=kind).inc()

    def rate_limited(self, seconds: float) -> None:
        """Delivery waited ``seconds`` for a Slack rate limit (hook for the alerts dispatcher)."""
        self.slack_rate_limit_waits.inc()
        self.slack_rate_limit_wait_seconds.inc(max(0.0, seconds))

    def watch_lag(self, source: LagSource) -> None:
        """Read consumer lag from ``source`` at each scrape (``streams.lag.faust_lag(app)``)."""
        self.lag.source = source


def metered_sleep(
    metrics: WorkerMetrics, sleep: Callable[[float], Awaitable[Any]] | None = None
) -> Callable[[float], Awaitable[Any]]:
    """An ``asyncio.sleep`` that counts each wait as a Slack rate-limit wait.

    For ``alerts.dispatch.AlertDispatcher(sleep=...)``, whose only sleeps are per-channel pacing
    and ``Retry-After`` waits.
    """
    import asyncio

    real_sleep = sleep or asyncio.sleep

    async def wait(seconds: float) -> Any:
        metrics.rate_limited(seconds)
        return await real_sleep(seconds)

    return wait
