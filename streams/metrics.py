"""Prometheus metrics of the worker: one registry per process, served on the worker's web port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


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
            "Alert decisions by outcome (posted, duplicate, muted, parked, failed, digested).",
            ["outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "wirewatch_dead_letters_total",
            "Records sent to a dead-letter topic.",
            ["stage", "kind"],
            registry=self.registry,
        )

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
