"""The poller's own series for skipped entries, unchanged bodies, state writes and parse kills."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.poller.config import FeedConfig
from streams.poller.poller import CycleReport
from streams.poller_metrics import PollerTelemetry
from wirewatch.settings import Settings


def test_skips_unchanged_bodies_state_writes_and_kills_are_counted() -> None:
    reports = [
        CycleReport(polled=2, entries=3, entries_skipped=17, unchanged_bodies=1, state_records=4),
        CycleReport(polled=2, entries_skipped=20, unchanged_bodies=2, state_records=0),
    ]
    pool = SimpleNamespace(killed=0)

    async def poll_once(*, ignore_schedule: bool = False) -> CycleReport:
        pool.killed += 1  # one parse killed per cycle
        return reports.pop(0)

    poller = SimpleNamespace(
        feeds=(FeedConfig(url="http://a.test/"),),
        state=SimpleNamespace(feeds={}, seen_count=0),
        parse_pool=pool,
        poll_once=poll_once,
    )
    telemetry = PollerTelemetry(Settings())
    telemetry.observe(poller)
    asyncio.run(poller.poll_once())
    asyncio.run(poller.poll_once())
    series = {
        s.name: s.value
        for family in text_string_to_metric_families(
            generate_latest(telemetry.metrics.registry).decode()
        )
        for s in family.samples
    }
    assert series["wirewatch_feed_entries_skipped_total"] == 37
    assert series["wirewatch_feed_unchanged_bodies_total"] == 3
    assert series["wirewatch_poller_state_records_total"] == 4
    assert series["wirewatch_parse_workers_killed_total"] == 2
