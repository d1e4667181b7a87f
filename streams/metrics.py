"""Prometheus metrics of the worker: one registry per process, served on the worker's web port."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Alert outcomes are pre-declared so every series exists (at 0) from the first scrape: an alert
# rule on ``rate(wirewatch_alerts_total{outcome="failed"}[5m])`` must not wait for a first failure.
ALERT_OUTCOMES = ("posted", "duplicate", "muted", "cooldown", "parked", "failed", "digested")

# Dead-letter kinds per stage, pre-declared for the same reason: ``increase()`` cannot see the
# first record of a series that appears at 1, so a rule would miss a first dead letter.
DEAD_LETTER_KINDS = {
    "detect": ("invalid_record", "timeout", "error"),
    "alert": ("invalid_record", "parked", "failed"),
}
# Why delivery to Slack is held (alerts wait, unacknowledged, instead of being lost): ``auth``
# (Slack refused the token), ``replay_check_unavailable`` (after a crash, Slack could not be asked
# whether an alert was already posted). Waiting on Slack rate limits shows in the wait counters.
HELD_REASONS = ("auth", "replay_check_unavailable")
# Latency stages: ``detect`` from an article's publication to Kafka until detection finished it
# (its match records sent), ``alert`` from a match record to its Slack post (alone or in a digest).
LATENCY_STAGES = ("detect", "alert")
LATENCY_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)

LagSource = Callable[[], Mapping[tuple[str, int], int]]
HealthSource = Callable[[], Mapping[str, Any]]


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


class WorkerHealthCollector(Collector):
    """``wirewatch_worker_healthy``: 1 when ``/health`` would answer ok, else 0, read at scrape."""

    def __init__(self) -> None:
        self.source: HealthSource | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample once a health source is attached (none before: unknown, not healthy)."""
        family = GaugeMetricFamily(
            "wirewatch_worker_healthy",
            "1 while the worker's health check passes; 0 when delivery is paused or a stage "
            "stalled.",
        )
        if self.source is not None:
            family.add_metric([], 1.0 if self.source().get("ok") else 0.0)
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
        for stage, kinds in DEAD_LETTER_KINDS.items():
            for kind in kinds:
                self.dead_letters.labels(stage=stage, kind=kind)
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
        self.delivery_held_by = Gauge(
            "wirewatch_alert_delivery_held",
            "1 while Slack delivery is held, by reason: " + ", ".join(HELD_REASONS) + ".",
            ["reason"],
            registry=self.registry,
        )
        for reason in HELD_REASONS:
            self.delivery_held_by.labels(reason=reason).set(0)
        self.alert_posts = Counter(
            "wirewatch_alert_posts_total",
            "Alerts posted to Slack (alone or inside a digest), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.stage_latency = Histogram(
            "wirewatch_stage_latency_seconds",
            "Seconds from a stage's input to its output: detect (article published to Kafka to "
            "detection done), alert (match record to Slack post).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        for stage in LATENCY_STAGES:
            self.stage_latency.labels(stage=stage)
        self.lag = ConsumerLagCollector()
        self.registry.register(self.lag)
        self.health = WorkerHealthCollector()
        self.registry.register(self.health)

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

    def posted(self, channel: str, seconds_since_match: float | None) -> None:
        """An alert reached Slack in ``channel``; its match was emitted that long ago."""
        self.alert_posts.labels(channel=channel).inc()
        if seconds_since_match is not None:
            self.stage_latency.labels(stage="alert").observe(max(0.0, seconds_since_match))

    def detect_latency(self, seconds_since_published: float) -> None:
        """Detection finished an article this long after the poller published it to Kafka."""
        self.stage_latency.labels(stage="detect").observe(max(0.0, seconds_since_published))

    def delivery_held(self, reason: str, held: bool) -> None:
        """Delivery to Slack is (or no longer is) held for ``reason`` (one of HELD_REASONS)."""
        self.delivery_held_by.labels(reason=reason).set(1 if held else 0)

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

    def watch_health(self, source: HealthSource) -> None:
        """Read ``WorkerHealth.report`` at each scrape for ``wirewatch_worker_healthy``."""
        self.health.source = source


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
