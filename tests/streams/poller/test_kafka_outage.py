"""RELIABILITY 22: Kafka down when the poller starts, then restarting mid-run; no duplicates.

A broker of this test's own (free ports, throwaway folder) is started late and restarted, so the
shared session broker is never disturbed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.poller.config import FeedConfig
from streams.poller.factory import create_poller
from tests.feedserver import FeedServer
from wirewatch.localkafka import LocalKafka, free_port
from wirewatch.settings import Settings

from .conftest import FakeClock, read_topic

pytestmark = pytest.mark.kafka


def rss(numbers: range) -> bytes:
    items = "".join(
        f"<item><title>Story {n}</title><link>https://news.example/{n}</link></item>"
        for n in numbers
    )
    return f"<rss version='2.0'><channel><title>W</title>{items}</channel></rss>".encode()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(data_dir=tmp_path / "kafka", port=free_port(), controller_port=free_port())
    try:
        yield broker
    finally:
        broker.destroy()


async def test_kafka_down_at_start_and_restarting_mid_run(
    own_broker: LocalKafka, feed_server: FeedServer, poller_settings: Settings, clock: FakeClock
) -> None:
    settings = poller_settings.model_copy(
        update={
            "producer_options": {
                "bootstrap_timeout_ms": 2000,
                "request_timeout_ms": 5000,
                "max_block_ms": 60_000,
                "delivery_timeout_ms": 120_000,
                "reconnect_backoff_max_ms": 1000,
            }
        }
    )
    url = feed_server.put("wire", rss(range(1, 4)))
    feeds = [FeedConfig(url=url)]
    poller = create_poller(
        settings, feeds, bootstrap=own_broker.bootstrap, clock=clock, rng=random.Random(3)
    )

    # Kafka is down: the first cycle waits (retrying with back-off) instead of failing or
    # dropping anything.
    first = asyncio.create_task(poller.poll_once())
    await asyncio.sleep(3)
    assert not first.done()
    assert feed_server.hits("/doc/wire") == 0
    await asyncio.to_thread(own_broker.start)
    report = await asyncio.wait_for(first, 120)
    assert report.published == 3

    # The broker goes away mid-run; new stories arrive; the publish blocks until it is back.
    await asyncio.to_thread(own_broker.stop)
    feed_server.put("wire", rss(range(1, 6)))
    clock.advance(3600)
    second = asyncio.create_task(poller.poll_once())
    await asyncio.sleep(3)
    assert not second.done()
    await asyncio.to_thread(own_broker.start)
    report = await asyncio.wait_for(second, 150)
    assert report.published == 2
    await poller.close()

    # And a restart of the poller itself publishes nothing again.
    again = create_poller(settings, feeds, bootstrap=own_broker.bootstrap, clock=clock)
    report = await again.poll_once(ignore_schedule=True)
    assert report.published == 0
    await again.close()

    records = read_topic(own_broker.bootstrap, settings.articles_topic)
    links = sorted(value["link"] for _, value in records)
    assert links == [f"https://news.example/{n}" for n in range(1, 6)]
