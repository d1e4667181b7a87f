"""Nothing the poller keeps per host grows with the number of hosts it ever saw.

5,000 feeds on 5,000 host names, each redirecting to another host: 10,000 distinct hosts go
through the real fetcher, httpx, httpcore's pool and the address guard. The network is an
in-memory backend behind the guard (every name resolves to 127.0.0.1, and no socket is opened at
all), so the test needs no traffic and the maps can be watched while the fetches run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore

from streams.poller.fetcher import Fetcher, FetchOptions
from streams.poller.guard import AddressGuard, AddressPolicy

FEEDS = 5_000
FEED = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
    b"<item><title>x</title><link>https://bounded.example/x</link></item></channel></rss>"
)


class MemoryStream(httpcore.AsyncNetworkStream):
    """Answers one HTTP/1.1 request from memory: a redirect for /start, a feed otherwise."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.request = b""
        self.answer = b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.request += buffer
        if b"\r\n\r\n" not in self.request or self.answer:
            return
        head = self.request.decode("latin-1")
        path = head.split(" ", 2)[1]
        host = next(
            line.split(":", 1)[1].strip().split(":")[0]
            for line in head.split("\r\n")
            if line.lower().startswith("host:")
        )
        if path == "/start":
            target = host.replace("feed-", "moved-")
            self.answer = (
                f"HTTP/1.1 302 Found\r\nLocation: http://{target}/feed\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        else:
            self.answer = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                + f"Content-Length: {len(FEED)}\r\n\r\n".encode()
                + FEED
            )

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await asyncio.sleep(0)  # let other fetches run, as a network would
        piece, self.answer = self.answer[:max_bytes], self.answer[max_bytes:]
        return piece

    async def aclose(self) -> None:
        self.backend.open -= 1

    def get_extra_info(self, info: str) -> Any:
        return None


class MemoryBackend(httpcore.AsyncNetworkBackend):
    """Connections to 127.0.0.1 only (what the guard let through), served from memory."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.connects = 0

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        assert host == "127.0.0.1", host
        self.connects += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        return MemoryStream(self)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def test_per_host_maps_stay_bounded_over_10000_hosts() -> None:
    resolved: list[str] = []
    most_hosts = 0

    async def resolver(host: str, port: int) -> list[str]:
        # Called on every connect, while that fetch holds its host slot: watch the map here.
        nonlocal most_hosts
        assert host.endswith(".bounded.test")
        resolved.append(host)
        most_hosts = max(most_hosts, fetcher.hosts_tracked)
        return ["127.0.0.1"]

    backend = MemoryBackend()
    options = FetchOptions(concurrency=64, per_host_concurrency=2)
    fetcher = Fetcher(
        options,
        AddressGuard(AddressPolicy(allow_loopback=True), resolver),
        network_backend=backend,
    )
    results = await asyncio.gather(
        *(fetcher.fetch(f"http://feed-{n}.bounded.test/start") for n in range(FEEDS))
    )
    pool = fetcher._client._transport._pool  # type: ignore[union-attr]
    pooled = len(pool.connections)
    await fetcher.aclose()

    assert all(r.status == 200 and r.redirects for r in results)
    assert len(set(resolved)) == 2 * FEEDS  # every hop went through the guard
    # The per-host map holds only hosts with a fetch in flight, and is empty afterwards.
    assert 0 < most_hosts <= options.concurrency
    assert fetcher.hosts_tracked == 0
    # Connections (one per host) never pile up beyond the pool's limit.
    assert backend.connects == 2 * FEEDS
    assert backend.most_open <= options.concurrency
    assert pooled <= options.concurrency
