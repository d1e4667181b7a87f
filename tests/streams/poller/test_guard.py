"""The address guard refuses private, loopback, link-local targets BEFORE any connection.

Only 127.0.0.1 is ever connected to here: the resolver is a stub, and the network backend below
fails the test if asked to connect anywhere but loopback.
"""

from __future__ import annotations

import ipaddress

import httpcore
import pytest

from streams.poller.errors import BlockedAddressError, FetchError
from streams.poller.fetcher import Fetcher, FetchOptions
from streams.poller.guard import AddressGuard, AddressPolicy
from tests.feedserver import FeedServer


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects to 127.0.0.1 only; any other connect attempt fails the test."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connected: list[str] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        if not ipaddress.ip_address(host).is_loopback:
            pytest.fail(f"a connection to {host}:{port} was attempted")
        self.connected.append(host)
        return await self.inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def stub_resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.5", "private"),
        ("172.18.0.3", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.5", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("fd00::1", "private"),
        ("2002::1", "6to4"),
        ("2002:a00:5::1", "6to4"),  # 6to4 around 10.0.0.5
        ("2002:5db8:d70e::1", "6to4"),  # even around a public IPv4 address: a relay decides
        ("fec0::1", "site-local"),
        ("feff:ffff::1", "site-local"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_policy_decisions(address: str, reason: str | None) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) == reason


def test_policy_switches() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    private = ipaddress.ip_address("10.0.0.5")
    metadata = ipaddress.ip_address("169.254.169.254")
    assert AddressPolicy(allow_loopback=True).refusal(loopback) is None
    assert AddressPolicy(allow_loopback=True).refusal(private) == "private"
    assert AddressPolicy(allow_private=True).refusal(private) is None
    assert AddressPolicy(allow_private=True).refusal(loopback) == "loopback"
    # The cloud metadata service is never allowed.
    assert AddressPolicy(True, True).refusal(metadata) == "link-local"


@pytest.mark.parametrize(
    ("host", "answer"),
    [
        ("feeds.internal.test", ["10.0.0.5"]),
        ("metadata.test", ["169.254.169.254"]),
        ("kafka", ["172.18.0.3"]),
        ("mixed.test", ["93.184.215.14", "10.0.0.5"]),
    ],
)
async def test_blocked_before_connecting(host: str, answer: list[str]) -> None:
    backend = LoopbackOnlyBackend()
    resolver = stub_resolver({host: answer})
    guard = AddressGuard(AddressPolicy(allow_loopback=True), resolver)
    fetcher = Fetcher(FetchOptions(), guard, network_backend=backend)
    port = 9092 if host == "kafka" else 80
    with pytest.raises(BlockedAddressError) as caught:
        await fetcher.fetch(f"http://{host}:{port}/feed.xml")
    await fetcher.aclose()
    assert caught.value.kind == "blocked"
    assert "blocked" in str(caught.value)
    assert resolver.calls == [host]
    assert backend.connected == []


async def test_loopback_refused_unless_allowed(feed_server: FeedServer) -> None:
    backend = LoopbackOnlyBackend()
    fetcher = Fetcher(FetchOptions(), AddressGuard(AddressPolicy()), network_backend=backend)
    with pytest.raises(BlockedAddressError, match=r"loopback address 127\.0\.0\.1"):
        await fetcher.fetch(feed_server.url("/status/200"))
    await fetcher.aclose()
    assert backend.connected == []
    assert feed_server.requests == []


async def test_redirect_to_private_address_blocked_on_that_hop(feed_server: FeedServer) -> None:
    backend = LoopbackOnlyBackend()
    resolver = stub_resolver({"feeds.test": ["127.0.0.1"], "intranet.test": ["10.0.0.5"]})
    guard = AddressGuard(AddressPolicy(allow_loopback=True), resolver)
    fetcher = Fetcher(FetchOptions(), guard, network_backend=backend)
    start = f"http://feeds.test:{feed_server.port}/redirect-to?url=http://intranet.test/admin"
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(start)
    await fetcher.aclose()
    assert caught.value.kind == "blocked"
    assert resolver.calls == ["feeds.test", "intranet.test"]
    assert backend.connected == ["127.0.0.1"]
    # The first hop went to the loopback server, with the feed's host name in the Host header.
    assert feed_server.requests[0].headers["host"] == f"feeds.test:{feed_server.port}"


async def test_redirect_to_metadata_literal_and_other_schemes(feed_server: FeedServer) -> None:
    backend = LoopbackOnlyBackend()
    fetcher = Fetcher(
        FetchOptions(), AddressGuard(AddressPolicy(allow_loopback=True)), network_backend=backend
    )
    with pytest.raises(FetchError) as metadata:
        await fetcher.fetch(feed_server.url("/redirect-to?url=http://169.254.169.254/latest/"))
    with pytest.raises(FetchError) as file_scheme:
        await fetcher.fetch(feed_server.url("/redirect-to?url=file:///etc/passwd"))
    await fetcher.aclose()
    assert metadata.value.kind == "blocked"
    assert file_scheme.value.kind == "scheme"
    assert set(backend.connected) == {"127.0.0.1"}
