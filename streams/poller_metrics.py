"""The poller's telemetry: Prometheus series and a health report, served over HTTP.

The poller itself knows nothing of Prometheus. :func:`serve_poller_telemetry` observes it from
outside: every cycle's :class:`~streams.poller.poller.CycleReport` (feed outcomes, articles
published) and the per-feed state become series, and the same observations decide ``/health``,
which ``wirewatch healthcheck --component poller`` reads::

    telemetry = serve_poller_telemetry(poller, settings)   # after create_poller(...)
    ...
    telemetry.close()                                      # on shutdown

The server runs in a daemon thread (``http.server``), so it answers even while a cycle keeps the
event loop busy, and it reads only plain numbers the loop has already written.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from wirewatch.settings import Settings

log = logging.getLogger(__name__)

# Outcome words of CycleReport.outcomes, pre-declared so each series exists from the first scrape.
FEED_OUTCOMES = ("articles", "empty", "not_modified", "kafka", "error")
FEED_STATUSES = ("ok", "new", "failing", "attention")


class PollerMetrics:
    """The poller's series; names are part of the operations contract (see deploy/README.md)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.polls = Counter(
            "wirewatch_feed_polls_total",
            "Feed polls by outcome: articles, empty, not_modified (HTTP 304), kafka, error.",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "wirewatch_feed_errors_total",
            "Failed feed polls by kind (timeout, http_5xx, too_large, malformed, blocked, ...).",
            ["kind"],
            registry=self.registry,
        )
        self.published = Counter(
            "wirewatch_articles_published_total",
            "New articles published to the articles topic (acknowledged by Kafka).",
            registry=self.registry,
        )
        self.entries = Counter(
            "wirewatch_feed_entries_total",
            "Feed entries parsed (new or already seen).",
            registry=self.registry,
        )
        self.entries_skipped = Counter(
            "wirewatch_feed_entries_skipped_total",
            "Feed entries recognised by their bytes as seen before, and not parsed.",
            registry=self.registry,
        )
        self.unchanged_bodies = Counter(
            "wirewatch_feed_unchanged_bodies_total",
            "200 answers with the same body as the last poll (counted as not_modified too).",
            registry=self.registry,
        )
        self.state_records = Counter(
            "wirewatch_poller_state_records_total",
            "Records written to the poller's state topic.",
            registry=self.registry,
        )
        self.parse_kills = Counter(
            "wirewatch_parse_workers_killed_total",
            "Parse worker processes killed and replaced (parse deadline overrun or crash).",
            registry=self.registry,
        )
        self.wire_bytes = Counter(
            "wirewatch_feed_bytes_total",
            "Bytes received from feed servers (compressed, as on the wire).",
            registry=self.registry,
        )
        self.cycle_seconds = Histogram(
            "wirewatch_poll_cycle_seconds",
            "Wall time of one poll cycle (all due feeds).",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.last_cycle = Gauge(
            "wirewatch_poll_last_cycle_timestamp_seconds",
            "Unix time the last poll cycle finished.",
            registry=self.registry,
        )
        self.feeds = Gauge(
            "wirewatch_feeds",
            "Feeds of this poller by health status (ok, new, failing, attention).",
            ["status"],
            registry=self.registry,
        )
        self.remembered = Gauge(
            "wirewatch_poller_remembered_article_ids",
            "Article ids remembered to publish each article once.",
            registry=self.registry,
        )
        for outcome in FEED_OUTCOMES:
            self.polls.labels(outcome=outcome)
        for status in FEED_STATUSES:
            self.feeds.labels(status=status).set(0)

    def observe_cycle(
        self,
        outcomes: Iterable[str],
        published: int,
        entries: int,
        wire_bytes: int,
        seconds: float,
        statuses: dict[str, int],
        remembered: int,
        now: float,
        entries_skipped: int = 0,
        unchanged_bodies: int = 0,
        state_records: int = 0,
        parse_kills: int = 0,
    ) -> None:
        """Record one finished cycle (``outcomes``: one word per polled feed)."""
        for word in outcomes:
            kind = word.partition(":")[2] if word.startswith("error:") else None
            self.polls.labels(outcome="error" if kind is not None else word).inc()
            if kind is not None:
                self.errors.labels(kind=kind).inc()
        self.published.inc(published)
        self.entries.inc(entries)
        self.entries_skipped.inc(entries_skipped)
        self.unchanged_bodies.inc(unchanged_bodies)
        self.state_records.inc(state_records)
        self.parse_kills.inc(parse_kills)
        self.wire_bytes.inc(wire_bytes)
        self.cycle_seconds.observe(seconds)
        self.last_cycle.set(now)
        for status in FEED_STATUSES:
            self.feeds.labels(status=status).set(statuses.get(status, 0))
        self.remembered.set(remembered)


@dataclass
class PollerHealth:
    """Healthy once a cycle finished, while cycles keep finishing and Kafka takes the articles."""

    stall_seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    last_cycle: float | None = None
    kafka_failures: int = 0
    feeds_polled: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def cycle_finished(self, polled: int, kafka_failures: int) -> None:
        """A cycle ended; ``kafka_failures`` feeds could not publish their articles."""
        self.last_cycle = self.clock()
        self.kafka_failures = kafka_failures
        self.feeds_polled = polled

    def report(self) -> dict[str, Any]:
        """Plain data for ``/health``; ``reason`` says why ``ok`` is false."""
        now = self.clock()
        reason = None
        if self.last_cycle is None:
            reason = (
                f"no poll cycle finished in {now - self.started:.0f}s since start "
                "(Kafka unreachable or the poller state not loaded yet)"
            )
        elif now - self.last_cycle > self.stall_seconds:
            reason = f"stalled: no poll cycle finished for {now - self.last_cycle:.0f}s"
        elif self.kafka_failures:
            reason = f"publishing to Kafka failed for {self.kafka_failures} feeds in the last cycle"
        return {
            "ok": reason is None,
            "reason": reason,
            "seconds_since_cycle": (
                None if self.last_cycle is None else round(now - self.last_cycle, 1)
            ),
            "feeds_polled_last_cycle": self.feeds_polled,
        }


class _Handler(http.server.BaseHTTPRequestHandler):
    telemetry: PollerTelemetry

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/metrics":
            body = generate_latest(self.telemetry.metrics.registry)
            self._send(200, CONTENT_TYPE_LATEST, body)
        elif self.path.split("?")[0] == "/health":
            report = self.telemetry.health.report()
            status = 200 if report["ok"] else 503
            self._send(status, "application/json", json.dumps(report).encode())
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Scrapes every few seconds are not events worth a log record.
        pass


class PollerTelemetry:
    """Metrics and health of one poller process, optionally served on a port."""

    def __init__(self, settings: Settings, metrics: PollerMetrics | None = None) -> None:
        self.metrics = metrics or PollerMetrics()
        self.health = PollerHealth(stall_seconds=settings.health_stall_seconds)
        self.server: http.server.ThreadingHTTPServer | None = None

    def observe(self, poller: Any) -> None:
        """Wrap ``poller.poll_once`` so each finished cycle is recorded (``run_forever`` too)."""
        from streams.poller.health import summary

        original = poller.poll_once
        pool = getattr(poller, "parse_pool", None)
        kills_seen = [0]

        async def poll_once_observed(*, ignore_schedule: bool = False) -> Any:
            began = time.monotonic()
            report = await original(ignore_schedule=ignore_schedule)
            kills = getattr(pool, "killed", 0)
            new_kills, kills_seen[0] = kills - kills_seen[0], kills
            mine = {feed.url for feed in poller.feeds}
            states = [s for url, s in poller.state.feeds.items() if url in mine]
            outcomes = list(report.outcomes.values())
            self.metrics.observe_cycle(
                outcomes,
                published=report.published,
                entries=report.entries,
                wire_bytes=report.wire_bytes,
                seconds=time.monotonic() - began,
                statuses=summary(states),
                remembered=poller.state.seen_count,
                now=time.time(),
                entries_skipped=report.entries_skipped,
                unchanged_bodies=report.unchanged_bodies,
                state_records=report.state_records,
                parse_kills=new_kills,
            )
            self.health.cycle_finished(report.polled, outcomes.count("kafka"))
            return report

        poller.poll_once = poll_once_observed

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` and ``/health`` on ``host:port`` (0: any free port); return it."""
        handler = type("PollerTelemetryHandler", (_Handler,), {"telemetry": self})
        self.server = http.server.ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, name="poller-telemetry", daemon=True
        ).start()
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def serve_poller_telemetry(poller: Any, settings: Settings) -> PollerTelemetry:
    """Observe ``poller``; serve its telemetry on ``settings.poller_web_port`` (0: not served)."""
    telemetry = PollerTelemetry(settings)
    telemetry.observe(poller)
    if settings.poller_web_port:
        try:
            telemetry.serve(settings.poller_web_port, settings.web_bind)
        except OSError as exc:
            # Polling matters more than its telemetry: carry on, loudly. The health check then
            # reports the endpoint unreachable, so an orchestrator still sees the problem.
            log.error(
                "cannot serve poller health and metrics on %s:%d: %s",
                settings.web_bind,
                settings.poller_web_port,
                exc.strerror,
            )
    return telemetry
