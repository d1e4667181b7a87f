"""The blocked-address guard: feeds may only reach public internet addresses.

The check runs where the connection is made (:class:`GuardedBackend`, an httpcore network backend),
so it covers the first request and every redirect hop, and the socket goes to the very address
that was checked: a DNS answer that changes between check and connect (rebinding) cannot slip
through. The resolver is injectable so that tests can answer ``10.0.0.5`` or ``169.254.169.254``
for a test host name and see the refusal without any connection being attempted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from streams.poller.errors import BlockedAddressError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges Python still calls global that can reach non-public hosts: 6to4 (a relay delivers
# to the IPv4 address embedded in it, private ones included) and the deprecated site-local range.
_REFUSED_IPV6 = (
    (ipaddress.IPv6Network("2002::/16"), "6to4"),
    (ipaddress.IPv6Network("fec0::/10"), "site-local"),
)
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system (``getaddrinfo``), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """Which address ranges are allowed besides public unicast."""

    allow_loopback: bool = False
    allow_private: bool = False

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` is refused, or None when it may be connected to."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            return self.refusal(address.ipv4_mapped)
        if isinstance(address, ipaddress.IPv6Address):
            for network, reason in _REFUSED_IPV6:
                if address in network:
                    return reason
        if address.is_loopback:
            return None if self.allow_loopback else "loopback"
        if address.is_unspecified:
            return "unspecified"
        if address.is_multicast:
            return "multicast"
        if address.is_link_local:
            # 169.254.0.0/16 holds cloud metadata services: never allowed.
            return "link-local"
        if address.is_reserved:
            return "reserved"
        if address.is_private or not address.is_global:
            return None if self.allow_private else "private"
        return None


class AddressGuard:
    """Resolve a host and return the addresses it may be connected to, or raise."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self._resolve = resolver or system_resolver

    async def allowed_addresses(self, host: str, port: int) -> list[str]:
        """Every address of ``host``; raise :class:`BlockedAddressError` if any is refused.

        One refused answer refuses the host: picking the "good" address of a mixed answer would
        let an attacker win by racing.
        """
        literal = _literal(host)
        if literal is not None:
            answers = [str(literal)]
        else:
            try:
                answers = await self._resolve(host, port)
            except OSError as exc:
                msg = f"cannot resolve {host}: {exc.strerror or exc}"
                raise BlockedAddressError(msg) from None
        if not answers:
            msg = f"{host} resolves to no address"
            raise BlockedAddressError(msg)
        for answer in answers:
            try:
                address = ipaddress.ip_address(answer.split("%", 1)[0])
            except ValueError:
                msg = f"{host} resolved to an invalid address {answer!r}"
                raise BlockedAddressError(msg) from None
            reason = self.policy.refusal(address)
            if reason is not None:
                msg = f"{host} resolves to {reason} address {address}: blocked"
                raise BlockedAddressError(msg)
        return answers


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that checks the address before every TCP connect."""

    def __init__(
        self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first checked address that answers (TLS still uses ``host`` for SNI)."""
        addresses = await self._guard.allowed_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never a feed's target."""
        msg = "unix sockets are not allowed"
        raise BlockedAddressError(msg)

    async def sleep(self, seconds: float) -> None:
        """Delegate to the inner backend."""
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guard in its connection pool; no proxies from the environment.

    A proxy would make the guard check the proxy instead of the feed, so none is used.
    """

    def __init__(
        self,
        guard: AddressGuard,
        *,
        limits: httpx.Limits,
        inner_backend: httpcore.AsyncNetworkBackend | None = None,
        verify: bool = True,
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard, inner_backend),
        )
