"""Poller and worker telemetry: the series, the health decisions and the HTTP endpoints."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.health import WorkerHealth
from streams.lag import faust_lag
from streams.metrics import WorkerMetrics, metered_sleep
from streams.poller.config import FeedConfig
from streams.poller.poller import CycleReport
from streams.poller.state import FeedState
from streams.poller_metrics import PollerHealth, PollerTelemetry, serve_poller_telemetry
from wirewatch.settings import load_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeState:
    feeds: dict[str, FeedState] = field(default_factory=dict)
    seen_count: int = 0


class FakePoller:
    """The surface PollerTelemetry observes: feeds, state and ``poll_once``."""

    def __init__(self, reports: list[CycleReport], urls: list[str]) -> None:
        self.feeds = tuple(FeedConfig(url=url) for url in urls)
        self.state = FakeState()
        self.reports = reports

    async def poll_once(self, *, ignore_schedule: bool = False) -> CycleReport:
        report = self.reports.pop(0)
        for url, outcome in report.outcomes.items():
            failing = outcome.startswith("error")
            self.state.feeds[url] = FeedState(
                url=url, error_streak=int(failing), last_success_at=None if failing else _now()
            )
        self.state.seen_count += report.published
        return report


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_poller_cycles_become_series_and_health() -> None:
    urls = ["http://a.test/feed", "http://b.test/feed", "http://c.test/feed"]
    reports = [
        CycleReport(
            polled=3,
            published=5,
            entries=9,
            wire_bytes=1234,
            outcomes={urls[0]: "articles", urls[1]: "error:timeout", urls[2]: "empty"},
        ),
        CycleReport(
            polled=3,
            published=0,
            outcomes={urls[0]: "not_modified", urls[1]: "error:http_5xx", urls[2]: "kafka"},
        ),
    ]
    poller = FakePoller(reports, urls)
    telemetry = PollerTelemetry(load_settings(health_stall_seconds=60))
    clock = FakeClock()
    telemetry.health = PollerHealth(stall_seconds=60, clock=clock)
    telemetry.observe(poller)
    before = telemetry.health.report()
    assert not before["ok"] and "no poll cycle finished" in before["reason"]

    asyncio.run(poller.poll_once())
    assert telemetry.health.report() == {
        "ok": True,
        "reason": None,
        "seconds_since_cycle": 0.0,
        "feeds_polled_last_cycle": 3,
    }
    asyncio.run(poller.poll_once())
    report = telemetry.health.report()
    assert not report["ok"] and "Kafka failed for 1 feeds" in report["reason"]

    series = samples(generate_latest(telemetry.metrics.registry).decode())
    polls = "wirewatch_feed_polls_total"
    assert series[(polls, (("outcome", "articles"),))] == 1
    assert series[(polls, (("outcome", "not_modified"),))] == 1
    assert series[(polls, (("outcome", "error"),))] == 2
    assert series[(polls, (("outcome", "kafka"),))] == 1
    assert series[("wirewatch_feed_errors_total", (("kind", "timeout"),))] == 1
    assert series[("wirewatch_feed_errors_total", (("kind", "http_5xx"),))] == 1
    assert series[("wirewatch_articles_published_total", ())] == 5
    assert series[("wirewatch_feed_entries_total", ())] == 9
    assert series[("wirewatch_feed_bytes_total", ())] == 1234
    assert series[("wirewatch_poll_cycle_seconds_count", ())] == 2
    assert series[("wirewatch_feeds", (("status", "failing"),))] == 1
    assert series[("wirewatch_poller_remembered_article_ids", ())] == 5


def test_poller_health_reports_a_stall() -> None:
    clock = FakeClock()
    health = PollerHealth(stall_seconds=60, clock=clock)
    health.cycle_finished(polled=2, kafka_failures=0)
    clock.now += 59
    assert health.report()["ok"]
    clock.now += 2
    report = health.report()
    assert not report["ok"] and report["reason"] == "stalled: no poll cycle finished for 61s"


def test_poller_endpoints_serve_metrics_and_health_on_loopback() -> None:
    telemetry = PollerTelemetry(load_settings())
    port = telemetry.serve(0, "127.0.0.1")
    try:
        base = f"http://127.0.0.1:{port}"
        unhealthy = httpx.get(f"{base}/health", trust_env=False)
        assert unhealthy.status_code == 503 and unhealthy.json()["ok"] is False
        telemetry.health.cycle_finished(polled=1, kafka_failures=0)
        assert httpx.get(f"{base}/health", trust_env=False).json()["ok"] is True
        metrics = httpx.get(f"{base}/metrics", trust_env=False)
        assert metrics.status_code == 200
        assert 'wirewatch_feed_polls_total{outcome="not_modified"} 0.0' in metrics.text
        assert httpx.get(f"{base}/other", trust_env=False).status_code == 404
    finally:
        telemetry.close()


def test_worker_is_stalled_only_with_a_backlog_and_no_progress() -> None:
    clock = FakeClock()
    backlog = {"detect": 0, "alert": 0}
    health = WorkerHealth(clock=clock, backlog=lambda: backlog, stall_seconds=120)
    clock.now += 1000
    assert health.report()["ok"]  # idle for long, nothing waiting: healthy
    backlog["detect"] = 7
    report = health.report()
    assert not report["ok"]
    assert report["stalled"] == "detect: 7 records waiting and no batch finished for 1000s"
    health.beat("detect")
    assert health.report()["ok"]
    health.delivery_paused = "invalid_auth"
    assert health.report() | {"seconds_since_batch": None} == {
        "ok": False,
        "status": "red",
        "delivery_paused": "invalid_auth",
        "delivery_held": None,
        "replay_check": "available",
        "rate_limited_channels": {},
        "stalled": None,
        "seconds_since_batch": None,
    }


def test_a_stuck_alert_stage_is_stalled_while_detection_runs() -> None:
    clock = FakeClock()
    backlog = {"detect": 3, "alert": 5}
    health = WorkerHealth(clock=clock, backlog=lambda: backlog, stall_seconds=120)
    clock.now += 500
    health.beat("detect")  # detection keeps finishing batches
    report = health.report()
    assert not report["ok"]
    assert report["stalled"] == "alert: 5 records waiting and no batch finished for 500s"


def test_faust_lag_from_the_monitor_offsets() -> None:
    from faust.types import TP

    a0, a1, m0 = TP("articles", 0), TP("articles", 1), TP("matches", 0)
    monitor = SimpleNamespace(
        # end = next offset to be written; committed = last processed offset
        tp_end_offsets={a0: 10, a1: 5, m0: 3},
        tp_committed_offsets={a0: 9, a1: 1},
        tp_read_offsets={m0: 1},
    )
    lag = faust_lag(SimpleNamespace(monitor=monitor))
    assert lag == {("articles", 0): 0, ("articles", 1): 3, ("matches", 0): 2}


def test_worker_metrics_expose_lag_and_rate_limit_waits() -> None:
    metrics = WorkerMetrics()
    metrics.watch_lag(lambda: {("wirewatch.articles.v1", 2): 42})
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    asyncio.run(metered_sleep(metrics, fake_sleep)(3.0))
    series = samples(generate_latest(metrics.registry).decode())
    lag_key = ("wirewatch_consumer_lag", (("partition", "2"), ("topic", "wirewatch.articles.v1")))
    assert series[lag_key] == 42
    assert series[("wirewatch_slack_rate_limit_waits_total", ())] == 1
    assert series[("wirewatch_slack_rate_limit_wait_seconds_total", ())] == 3.0
    assert slept == [3.0]
    for outcome in ("posted", "failed", "parked", "digested"):
        assert series[("wirewatch_alerts_total", (("outcome", outcome),))] == 0


def test_a_taken_port_does_not_stop_the_poller(caplog: pytest.LogCaptureFixture) -> None:
    first = PollerTelemetry(load_settings())
    port = first.serve(0, "127.0.0.1")
    try:
        poller = FakePoller([CycleReport(polled=0)], [])
        settings = load_settings(poller_web_port=port, web_bind="127.0.0.1")
        second = serve_poller_telemetry(poller, settings)
        assert second.server is None
        assert "cannot serve poller health and metrics on 127.0.0.1" in caplog.text
        asyncio.run(poller.poll_once())  # still observed
        assert second.health.report()["ok"]
    finally:
        first.close()
