"""Only what can be new is parsed, published and written: an unchanged body counts like a 304,
a quiet cycle writes no state record, a feed that gained one entry has only that entry parsed."""

from __future__ import annotations

import random

import pytest

from streams.poller.config import FeedConfig
from streams.poller.factory import create_poller
from streams.poller.poller import FeedPoller
from tests.feedserver import FeedServer, Request, Response
from wirewatch.settings import Settings

from .conftest import FakeClock, read_topic

pytestmark = pytest.mark.kafka


def atom(first: int, count: int) -> bytes:
    """An Atom feed of entries first..first+count-1, newest first, with a changing <updated>."""
    entries = "".join(
        f"<entry><id>urn:quiet:{k}</id><title>Entry {k}</title>"
        f"<link href='https://quiet.example/{k}'/><updated>2026-11-26T08:00:00Z</updated>"
        f"<summary>Summary {k}</summary></entry>"
        for k in reversed(range(first, first + count))
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>Quiet</title><updated>2026-11-27T{first % 24:02d}:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def make(
    settings: Settings, feeds: list[FeedConfig], bootstrap: str, clock: FakeClock
) -> FeedPoller:
    return create_poller(settings, feeds, bootstrap=bootstrap, clock=clock, rng=random.Random(5))


async def test_unchanged_and_grown_feeds_parse_only_what_is_new(
    feed_server: FeedServer, kafka_bootstrap: str, poller_settings: Settings, clock: FakeClock
) -> None:
    # No validators at all: the common server that answers 200 with the same body every time.
    bodies = {"plain": atom(0, 10)}

    def no_validators(request: Request) -> Response:
        return Response(200, [("Content-Type", "application/atom+xml")], bodies["plain"])

    feed_server.routes["/plain"] = no_validators
    plain = feed_server.url("/plain")
    tagged = feed_server.put("tagged", atom(100, 5))  # answers 304 to its ETag
    feeds = [FeedConfig(url=plain), FeedConfig(url=tagged)]
    poller = make(poller_settings, feeds, kafka_bootstrap, clock)

    first = await poller.poll_once()
    assert first.published == 15 and first.entries == 15 and first.state_records > 0

    clock.advance(700)
    quiet = await poller.poll_once()
    assert quiet.outcomes == {plain: "not_modified", tagged: "not_modified"}
    assert quiet.unchanged_bodies == 1 and quiet.entries == 0
    assert quiet.published == 0 and quiet.state_records == 0

    # One new entry, and the feed-level <updated> changed: only the new entry is parsed.
    bodies["plain"] = atom(0, 11)
    clock.advance(700)
    grown = await poller.poll_once()
    assert grown.outcomes[plain] == "articles"
    assert grown.published == 1 and grown.entries == 1 and grown.entries_skipped == 10

    # The same entries in a body that changed elsewhere: nothing parsed at all.
    bodies["plain"] = bodies["plain"].replace(b"<title>Quiet</title>", b"<title>Quiet!</title>")
    clock.advance(700)
    reshuffled = await poller.poll_once()
    assert reshuffled.outcomes[plain] == "articles"
    assert reshuffled.entries == 0 and reshuffled.entries_skipped == 11
    assert reshuffled.published == 0
    await poller.close()

    # A restart knows the body hash: the same body again is not parsed.
    restarted = make(poller_settings, feeds, kafka_bootstrap, clock)
    again = await restarted.poll_once(ignore_schedule=True)
    assert again.outcomes == {plain: "not_modified", tagged: "not_modified"}
    assert again.entries == 0 and again.published == 0
    await restarted.close()

    links = [v["link"] for _, v in read_topic(kafka_bootstrap, poller_settings.articles_topic)]
    assert len(links) == len(set(links)) == 16
    assert "https://quiet.example/10" in links
