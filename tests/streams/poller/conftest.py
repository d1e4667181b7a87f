"""Fixtures of the poller tests: the loopback feed server, a fake clock, settings, Kafka helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.poller.fetcher import Fetcher, FetchOptions
from streams.poller.guard import AddressGuard, AddressPolicy
from tests.feedserver import FeedServer
from wirewatch.settings import Settings

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told (``advance``) or when the poller sleeps."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    async def sleep_until(self, when: datetime, stop: asyncio.Event) -> None:
        self._now = max(self._now, when)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def feed_server(corpus_dir: Path) -> Iterator[FeedServer]:
    with FeedServer(corpus_dir) as server:
        yield server


@pytest.fixture
def loopback_fetcher() -> Fetcher:
    options = FetchOptions(total_timeout_s=5.0, read_timeout_s=10.0, max_bytes=1 << 20)
    return Fetcher(options, AddressGuard(AddressPolicy(allow_loopback=True)))


@pytest.fixture
def poller_settings(unique_name: str) -> Settings:
    """Loopback allowed, short deadlines, topics of this test only."""
    return Settings(
        allow_loopback=True,
        articles_topic=f"{unique_name}.articles",
        poller_state_topic=f"{unique_name}.state",
        topic_partitions=2,
        fetch_total_timeout_seconds=10,
        fetch_max_bytes=2 << 20,
        poll_min_interval_seconds=60,
        poll_interval_seconds=600,
        poll_max_interval_seconds=3600,
        feed_error_threshold=3,
        # One parse worker per poller is enough here (each test's poller spawns its own).
        poll_parse_processes=1,
        producer_options={"delivery_timeout_ms": 60_000, "max_block_ms": 30_000},
    )


def read_topic(bootstrap: str, topic: str) -> list[tuple[str, dict[str, object]]]:
    """Every (key, JSON value) of a topic, all partitions, from the beginning."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return []
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end = consumer.end_offsets(assigned)
        out = []
        while any(consumer.position(tp) < end[tp] for tp in assigned):
            for batch in consumer.poll(timeout_ms=1000).values():
                out.extend((m.key.decode(), json.loads(m.value)) for m in batch)
        return out
    finally:
        consumer.close()
