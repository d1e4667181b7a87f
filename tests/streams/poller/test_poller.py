"""The poller end to end against the loopback feed server and the real Kafka broker."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

import pytest

from streams.poller.config import FeedConfig
from streams.poller.factory import create_poller
from streams.poller.poller import FeedPoller
from streams.poller.publisher import KafkaSender
from streams.records import ArticleV1
from tests.feedserver import FeedServer, Request, Response
from wirewatch.errors import ConfigError
from wirewatch.settings import Settings

from .conftest import FakeClock, read_topic

pytestmark = pytest.mark.kafka


def rss(*items: tuple[str, str, str]) -> bytes:
    """Items as (guid, link, title); empty parts are left out."""
    body = []
    for guid, link, title in items:
        parts = [f"<title>{title}</title>"]
        if guid:
            parts.append(f"<guid isPermaLink='false'>{guid}</guid>")
        if link:
            parts.append(f"<link>{link}</link>")
        parts.append("<pubDate>Thu, 26 Nov 2026 08:00:00 GMT</pubDate>")
        body.append("<item>" + "".join(parts) + "</item>")
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>"
        + "".join(body)
        + "</channel></rss>"
    ).encode()


def make(
    settings: Settings, feeds: list[FeedConfig], bootstrap: str, clock: FakeClock
) -> FeedPoller:
    return create_poller(settings, feeds, bootstrap=bootstrap, clock=clock, rng=random.Random(7))


async def test_each_article_published_once_across_polls_feeds_and_restarts(
    feed_server: FeedServer, kafka_bootstrap: str, poller_settings: Settings, clock: FakeClock
) -> None:
    a = feed_server.put(
        "a",
        rss(
            ("a-1", "https://news.example/1", "One"),
            ("a-2", "https://news.example/2?utm_source=rss", "Two"),
            ("a-3", "https://news.example/3", "Three"),
        ),
    )
    b = feed_server.put(
        "b",
        rss(
            ("b-9", "https://NEWS.example/2?fbclid=x#comments", "Two, syndicated"),
            ("", "", "No guid, no link: hashed"),
        ),
    )
    feeds = [FeedConfig(url=a, name="A", tags=("x",)), FeedConfig(url=b)]
    poller = make(poller_settings, feeds, kafka_bootstrap, clock)
    first = await poller.poll_once()
    assert first.published == 4
    assert first.outcomes == {a: "articles", b: "articles"}

    clock.advance(700)
    second = await poller.poll_once()
    assert second.counts() == {"not_modified": 2} and second.published == 0
    state = poller.state.feeds[a]
    assert state.last_status == 304 and state.error_streak == 0

    # GUIDs changed, links the same (one with new tracking junk), one new story.
    feed_server.put(
        "a",
        rss(
            ("A-1-new", "https://news.example/1", "One"),
            ("A-2-new", "https://news.example/2?utm_campaign=z", "Two"),
            ("a-3", "https://news.example/3", "Three"),
            ("a-4", "https://news.example/4", "Four"),
        ),
    )
    clock.advance(700)
    third = await poller.poll_once()
    assert third.published == 1
    await poller.close()

    # A restart: a new poller reads validators and seen ids back from the state topic.
    feed_server.put(
        "b", rss(("b-9", "https://news.example/2", "Two"), ("", "", "No guid, no link: hashed"))
    )
    restarted = make(poller_settings, feeds, kafka_bootstrap, clock)
    assert await restarted.start()
    assert restarted.state.seen_count == 5
    fourth = await restarted.poll_once(ignore_schedule=True)
    assert fourth.published == 0
    assert fourth.outcomes == {a: "not_modified", b: "articles"}
    await restarted.close()

    records = read_topic(kafka_bootstrap, poller_settings.articles_topic)
    keys = [key for key, _ in records]
    assert len(keys) == len(set(keys)) == 5
    articles = [ArticleV1.model_validate(value) for _, value in records]
    assert {x.link for x in articles} == {
        "https://news.example/1",
        "https://news.example/2",
        "https://news.example/3",
        "https://news.example/4",
        "",
    }
    assert all(x.id == key for x, key in zip(articles, keys, strict=True))
    by_link = {x.link: x for x in articles}
    assert by_link["https://news.example/1"].source == "A"
    assert by_link["https://news.example/1"].tags == ("x",)


async def test_broken_feed_backs_off_is_reported_once_and_recovers(
    feed_server: FeedServer,
    kafka_bootstrap: str,
    poller_settings: Settings,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mode = {"answer": "500"}
    good = rss(("g-1", "https://news.example/g1", "Good"), ("g-2", "https://news.example/g2", "G2"))

    def flaky(request: Request) -> Response:
        if mode["answer"] == "500":
            return Response(500, [], b"oops")
        if mode["answer"] == "truncated":
            return Response(
                200, [("Content-Type", "application/rss+xml")], good[: len(good) * 2 // 3]
            )
        return Response(200, [("Content-Type", "application/rss+xml")], good)

    feed_server.routes["/flaky"] = flaky
    healthy = feed_server.put("healthy", rss(("h-1", "https://news.example/h1", "H")))
    flaky_url = feed_server.url("/flaky")
    poller = make(
        poller_settings,
        [FeedConfig(url=flaky_url), FeedConfig(url=healthy)],
        kafka_bootstrap,
        clock,
    )
    caplog.set_level(logging.DEBUG, logger="streams.poller")
    delays = []
    for _ in range(6):
        report = await poller.poll_once()
        assert report.outcomes[flaky_url] == "error:http_status"
        state = poller.state.feeds[flaky_url]
        delay = (state.next_poll_at - clock.now()).total_seconds()
        delays.append(delay)
        # Not polled again before its back-off ends.
        clock.advance(delay - 1)
        hits = feed_server.hits("/flaky")
        await poller.poll_once()
        assert feed_server.hits("/flaky") == hits
        clock.advance(1)
    # base 60 s doubling, equal jitter, capped at the 3,600 s maximum interval.
    for n, delay in enumerate(delays, start=1):
        ceiling = min(3600, 60 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert poller.state.feeds[flaky_url].error_streak == 6
    assert poller.state.feeds[flaky_url].needs_attention
    assert poller.state.feeds[healthy].error_streak == 0
    attention = [r for r in caplog.records if "needs attention" in r.getMessage()]
    assert len(attention) == 1 and attention[0].levelno == logging.ERROR

    # Fixed, but truncated: the readable entries are used, with a warning, and it recovers.
    mode["answer"] = "truncated"
    report = await poller.poll_once()
    assert report.outcomes[flaky_url] == "articles"
    state = poller.state.feeds[flaky_url]
    assert state.error_streak == 0 and not state.needs_attention and state.last_warning
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 1
    await poller.close()
    published = {v["link"] for _, v in read_topic(kafka_bootstrap, poller_settings.articles_topic)}
    assert "https://news.example/g1" in published


@pytest.mark.parametrize(
    ("path", "wait_s"),
    [
        ("/status/429?retry_after=1800", 1800),
        ("/status/503?retry_after=Fri,%2027%20Nov%202026%2014:00:00%20GMT", 7200),
    ],
)
async def test_retry_after_is_honoured(
    feed_server: FeedServer,
    kafka_bootstrap: str,
    poller_settings: Settings,
    clock: FakeClock,
    path: str,
    wait_s: float,
) -> None:
    url = feed_server.url(path)
    poller = make(poller_settings, [FeedConfig(url=url)], kafka_bootstrap, clock)
    await poller.poll_once()
    start = clock.now()
    assert poller.state.feeds[url].next_poll_at >= start + timedelta(seconds=wait_s)
    plain = path.split("?")[0]
    for _ in range(20):  # no tight retry loop, however often the scheduler wakes up
        clock.advance(wait_s / 25)
        await poller.poll_once()
        await poller.poll_once(ignore_schedule=True)
    assert feed_server.hits(plain) == 1
    clock.advance(wait_s)
    await poller.poll_once()
    assert feed_server.hits(plain) == 2
    await poller.close()


async def test_gone_feed_needs_attention_once(
    feed_server: FeedServer,
    kafka_bootstrap: str,
    poller_settings: Settings,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = feed_server.url("/status/410")
    poller = make(poller_settings, [FeedConfig(url=url)], kafka_bootstrap, clock)
    caplog.set_level(logging.INFO, logger="streams.poller")
    for _ in range(8):
        await poller.poll_once()
        clock.advance(4000)
    state = poller.state.feeds[url]
    assert state.needs_attention and state.last_error_kind == "gone" and state.error_streak == 8
    assert sum("needs attention" in r.getMessage() for r in caplog.records) == 1
    # One record for the first failure, one for crossing the threshold: not one per poll.
    assert sum(url in r.getMessage() for r in caplog.records) == 2
    await poller.close()


@pytest.mark.parametrize(
    "options",
    [
        {"acks": 1},
        {"acks": 0},
        {"enable_idempotence": False},
        {"retries": 0},
        {"max_in_flight_requests_per_connection": 10},
        {"compression_type": "lz4"},
    ],
)
def test_idempotence_breaking_producer_options_are_refused(options: dict[str, object]) -> None:
    # Refused before any connection: the bootstrap address is never contacted.
    with pytest.raises(ConfigError, match="refusing producer options"):
        KafkaSender("127.0.0.1:1", options)


async def test_producer_is_idempotent_acks_all_gzip(kafka_bootstrap: str) -> None:
    sender = KafkaSender(kafka_bootstrap)
    assert await sender.start()
    config = sender._producer.config
    assert config["enable_idempotence"] is True
    assert config["acks"] == -1
    assert config["compression_type"] == "gzip"
    await sender.close()


async def test_two_pollers_share_feeds_without_double_fetch_or_double_publish(
    feed_server: FeedServer, kafka_bootstrap: str, poller_settings: Settings, clock: FakeClock
) -> None:
    story = ("s", "https://news.example/shared-story", "Shared")
    feeds = [
        FeedConfig(
            url=feed_server.put(f"shard{n}", rss(story, (f"o{n}", f"https://o.example/{n}", "Own")))
        )
        for n in range(12)
    ]
    settings = [
        poller_settings.model_copy(update={"poller_count": 2, "poller_index": i}) for i in (0, 1)
    ]
    first, second = (make(s, feeds, kafka_bootstrap, clock) for s in settings)
    assert {f.url for f in first.feeds}.isdisjoint({f.url for f in second.feeds})
    assert len(first.feeds) + len(second.feeds) == 12 and first.feeds and second.feeds
    await first.start()
    await second.start()
    one = await first.poll_once()
    # The second poller hears the first one's seen ids through the shared state topic.
    for _ in range(100):
        if second.state.is_seen(article_id_of(story[1])):
            break
        await asyncio.sleep(0.1)
    two = await second.poll_once()
    await first.close()
    await second.close()
    assert one.published == len(first.feeds) + 1
    assert two.published == len(second.feeds)
    assert all(feed_server.hits(f.url.removeprefix(feed_server.base_url)) == 1 for f in feeds)
    links = [v["link"] for _, v in read_topic(kafka_bootstrap, poller_settings.articles_topic)]
    assert links.count("https://news.example/shared-story") == 1
    assert len(links) == 13


def article_id_of(link: str) -> str:
    from streams.poller.articles import article_id

    return article_id(link, "", "", "", "")
