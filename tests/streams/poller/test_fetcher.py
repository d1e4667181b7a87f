"""Fetching against a misbehaving loopback server: deadlines, caps, redirects, status codes."""

from __future__ import annotations

import asyncio
import resource
from datetime import UTC, datetime

import pytest

from streams.poller.errors import FetchError
from streams.poller.fetcher import Fetcher, FetchOptions, Validators
from streams.poller.guard import AddressGuard, AddressPolicy
from tests.feedserver import FeedServer, Request, Response, gzip_bomb

GUARDIAN = "news/feeds/fixtures/rss-parser/guardian.rss"


async def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


async def test_hanging_server_ends_at_the_deadline_and_others_finish(
    feed_server: FeedServer, loopback_fetcher: Fetcher
) -> None:
    hang, ok = await asyncio.gather(
        fetch_error(loopback_fetcher, feed_server.url("/hang")),
        loopback_fetcher.fetch(feed_server.file_url(GUARDIAN)),
    )
    assert hang.kind == "timeout"
    assert "5s deadline" in str(hang)
    assert ok.status == 200


async def test_trickle_is_ended_by_the_total_deadline(feed_server: FeedServer) -> None:
    # Per-read timeout far above the trickle interval: only the total deadline can end it.
    options = FetchOptions(total_timeout_s=1.5, read_timeout_s=30)
    fetcher = Fetcher(options, AddressGuard(AddressPolicy(allow_loopback=True)))
    error = await fetch_error(fetcher, feed_server.url("/trickle?every=0.1"))
    await fetcher.aclose()
    assert error.kind == "timeout"


async def test_gzip_bomb_stops_at_the_decoded_cap(
    feed_server: FeedServer, loopback_fetcher: Fetcher
) -> None:
    bomb = gzip_bomb(1024)  # built before the clock starts: 1 GiB of zeros, a few MB gzipped
    assert len(bomb) < 8 * 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = await fetch_error(loopback_fetcher, feed_server.url("/bomb?mb=1024"))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert error.kind == "too_large"
    assert "too large" in str(error)
    # One GiB decoded would show; the cap is 1 MiB (peak RSS in KiB on Linux).
    assert after - before < 200 * 1024


async def test_huge_body_and_lying_content_length(
    feed_server: FeedServer, loopback_fetcher: Fetcher
) -> None:
    huge = await fetch_error(loopback_fetcher, feed_server.url("/huge?mb=50"))
    assert huge.kind == "too_large"
    declared_huge = await fetch_error(
        loopback_fetcher, feed_server.url("/lying?declared=50000000&actual=100")
    )
    assert declared_huge.kind == "too_large"
    # Declares 100 bytes, sends 5 MB: no more than the declared bytes reach the parser.
    short = await loopback_fetcher.fetch(feed_server.url("/lying?declared=100&actual=5000000"))
    assert len(short.body) == 100
    # Declares 3 MB, sends 2.5 MB then closes: the cap or the broken body ends it, never a hang.
    over = await fetch_error(
        loopback_fetcher, feed_server.url("/lying?declared=3000000&actual=2500000")
    )
    assert over.kind in ("too_large", "protocol")


async def test_redirect_chains_loops_and_caps(
    feed_server: FeedServer, loopback_fetcher: Fetcher
) -> None:
    target = "/files/" + GUARDIAN
    ok = await loopback_fetcher.fetch(feed_server.url(f"/redirect/3?to={target}"))
    assert ok.status == 200 and len(ok.redirects) == 3
    assert ok.url == feed_server.url(target)
    chain = await fetch_error(loopback_fetcher, feed_server.url(f"/redirect/20?to={target}"))
    assert chain.kind == "redirects" and "more than 5" in str(chain)
    assert feed_server.hits("/redirect/15") == 1 and feed_server.hits("/redirect/14") == 0
    loop = await fetch_error(loopback_fetcher, feed_server.url("/loop/a"))
    assert loop.kind == "redirects" and "loop" in str(loop)


async def test_conditional_get(feed_server: FeedServer, loopback_fetcher: Fetcher) -> None:
    url = feed_server.file_url(GUARDIAN)
    first = await loopback_fetcher.fetch(url)
    assert first.validators.etag and first.validators.last_modified
    second = await loopback_fetcher.fetch(url, first.validators)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert second.wire_bytes < first.wire_bytes / 100
    sent = feed_server.requests_for(url.removeprefix(feed_server.base_url))[-1].headers
    assert sent["if-none-match"] == first.validators.etag
    assert sent["if-modified-since"] == first.validators.last_modified
    by_date = await loopback_fetcher.fetch(url, Validators(None, first.validators.last_modified))
    assert by_date.not_modified


@pytest.mark.parametrize(
    ("path", "kind", "retry_after"),
    [
        ("/status/429?retry_after=120", "rate_limited", 120.0),
        ("/status/503?retry_after=Fri,%2027%20Nov%202026%2013:00:00%20GMT", "unavailable", 3600.0),
        ("/status/503", "unavailable", None),
        ("/status/429?retry_after=soon", "rate_limited", None),
        ("/status/500", "http_status", None),
        ("/status/404", "not_found", None),
        ("/status/410", "gone", None),
    ],
)
async def test_status_codes(
    feed_server: FeedServer, path: str, kind: str, retry_after: float | None
) -> None:
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    fetcher = Fetcher(
        FetchOptions(), AddressGuard(AddressPolicy(allow_loopback=True)), clock=lambda: noon
    )
    error = await fetch_error(fetcher, feed_server.url(path))
    await fetcher.aclose()
    assert (error.kind, error.retry_after) == (kind, retry_after)


async def test_connection_refused_is_a_feed_error(loopback_fetcher: Fetcher) -> None:
    from wirewatch.localkafka import free_port

    error = await fetch_error(loopback_fetcher, f"http://127.0.0.1:{free_port()}/feed")
    assert error.kind == "connection"


async def test_per_host_and_overall_concurrency(feed_server: FeedServer) -> None:
    active = 0
    peak = 0

    async def slow(request: Request) -> Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return Response(200, [("Content-Type", "application/rss+xml")], b"<rss/>")

    for i in range(12):
        feed_server.routes[f"/slow/{i}"] = slow
    options = FetchOptions(per_host_concurrency=3, concurrency=10)
    fetcher = Fetcher(options, AddressGuard(AddressPolicy(allow_loopback=True)))
    results = await asyncio.gather(
        *(fetcher.fetch(feed_server.url(f"/slow/{i}")) for i in range(12))
    )
    await fetcher.aclose()
    assert [r.status for r in results] == [200] * 12
    assert peak == 3


async def test_gzip_served_feed_is_decoded(
    feed_server: FeedServer, loopback_fetcher: Fetcher
) -> None:
    plain = await loopback_fetcher.fetch(feed_server.file_url(GUARDIAN))
    packed = await loopback_fetcher.fetch(feed_server.file_url(GUARDIAN) + "?gzip=1")
    assert packed.body == plain.body
    assert packed.wire_bytes < plain.wire_bytes
