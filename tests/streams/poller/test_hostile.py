"""Hostile feeds among healthy ones, through the real poller and the real broker: each costs
only itself (RELIABILITY 1-5, 8, 45, 46)."""

from __future__ import annotations

import asyncio
import random

import pytest

from streams.poller.config import FeedConfig
from streams.poller.factory import create_poller
from streams.poller.parse_pool import ParsePool
from tests.feedserver import FeedServer
from wirewatch.settings import Settings

from .conftest import FakeClock, read_topic
from .slowparse import SLOW_MARK, parse_slowly_when_marked
from .test_doctype import XXE, billion_laughs, quadratic_blowup

pytestmark = pytest.mark.kafka

MIB = 1024 * 1024


def healthy(n: int, entries: int = 3) -> bytes:
    items = "".join(
        f"<item><title>Healthy {n}.{k}</title><link>https://healthy.example/{n}/{k}</link>"
        f"<description>Story {k} of feed {n}.</description></item>"
        for k in range(entries)
    )
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Healthy</title>"
        f"{items}</channel></rss>"
    ).encode()


async def test_entity_bombs_expand_nothing_and_parse_memory_stays_flat(
    feed_server: FeedServer, kafka_bootstrap: str, poller_settings: Settings, clock: FakeClock
) -> None:
    bombs = {
        "laughs-strict": billion_laughs(),
        "laughs-loose": billion_laughs(well_formed=False),
        "blowup-strict": quadratic_blowup(),
        "blowup-loose": quadratic_blowup(well_formed=False),
        "xxe": XXE,
    }
    warm = FeedConfig(url=feed_server.put("warm", healthy(0)))
    feeds = [FeedConfig(url=feed_server.put(name, body)) for name, body in bombs.items()]
    pool = ParsePool(1, deadline_s=60)
    try:
        poller = create_poller(
            poller_settings,
            [warm, *feeds],
            bootstrap=kafka_bootstrap,
            clock=clock,
            parse_pool=pool,
        )
        poller.feeds = (warm,)
        await poller.poll_once()
        (before,) = await pool.peak_memory()
        poller.feeds = (warm, *feeds)
        report = await poller.poll_once()
        (after,) = await pool.peak_memory()
        await poller.close()
    finally:
        pool.close()
    # 10**9 laughs or 300 MB of blowup would show here; the worker's peak barely moves.
    assert after - before < 32 * MIB, (before, after)
    for feed in feeds:
        assert report.outcomes[feed.url] == "articles"
        state = poller.state.feeds[feed.url]
        assert state.last_warning and "DOCTYPE internal subset removed" in state.last_warning
    articles = [v for _, v in read_topic(kafka_bootstrap, poller_settings.articles_topic)]
    # The strict and loose variants of a bomb carry the same link: one article each.
    assert {a["link"] for a in articles} >= {
        "https://laughs.example/1",
        "https://blowup.example/1",
        "https://xxe.example/1",
    }
    assert all(len(str(a["title"])) + len(str(a["summary"])) < 20_000 for a in articles)
    assert not any("root:" in str(a["title"]) for a in articles)


async def test_a_farm_with_hostile_feeds_finishes_its_cycle(
    feed_server: FeedServer, kafka_bootstrap: str, poller_settings: Settings, clock: FakeClock
) -> None:
    healthy_feeds = [FeedConfig(url=feed_server.put(f"h{n}", healthy(n))) for n in range(40)]
    slow_body = healthy(99).replace(b"<channel>", b"<channel>" + SLOW_MARK)
    hostile = {
        feed_server.url("/hang"): "error:timeout",
        feed_server.url("/trickle?every=0.5"): "error:timeout",
        feed_server.url("/bomb?mb=64"): "error:too_large",
        feed_server.url("/huge?mb=8"): "error:too_large",
        feed_server.url("/loop/a"): "error:redirects",
        feed_server.put("slow", slow_body): "error:parse_timeout",
    }
    laughs = feed_server.put("laughs", billion_laughs())
    feeds = [*healthy_feeds[:20], *(FeedConfig(url=u) for u in [*hostile, laughs])]
    feeds += healthy_feeds[20:]
    settings = poller_settings.model_copy(update={"fetch_total_timeout_seconds": 3})
    pool = ParsePool(2, deadline_s=3, parse_function=parse_slowly_when_marked)
    try:
        poller = create_poller(
            settings,
            feeds,
            bootstrap=kafka_bootstrap,
            clock=clock,
            rng=random.Random(3),
            parse_pool=pool,
        )
        # A guard against a hang of the test itself, not a measurement: the cycle ends by its
        # own deadlines (3 s fetch, 3 s parse), far inside this.
        report = await asyncio.wait_for(poller.poll_once(), 300)
        await poller.close()
    finally:
        pool.close()

    for url, outcome in hostile.items():
        assert report.outcomes[url] == outcome, url
        state = poller.state.feeds[url]
        assert state.error_streak == 1 and state.last_error_kind == outcome.removeprefix("error:")
    assert pool.killed == 1  # the slow parse was killed, not waited for
    # The entity bomb is not an error: its entities are cut, it parses without them.
    assert report.outcomes[laughs] == "articles"
    assert all(report.outcomes[f.url] == "articles" for f in healthy_feeds)
    links = {str(v["link"]) for _, v in read_topic(kafka_bootstrap, settings.articles_topic)}
    expected = {f"https://healthy.example/{n}/{k}" for n in range(40) for k in range(3)}
    assert expected <= links
    assert "https://healthy.example/99/0" not in links
