"""Fetching one feed politely and defensively with httpx.

- Overall and per-host concurrency limits (semaphores; a host's exists only while a fetch uses it,
  so the map stays as small as the fetches in flight), connect/read timeouts and a total deadline
  over the whole fetch (redirects and body included), so a trickling server cannot hold a slot.
- The body is streamed raw and decompressed here with an output limit, so the cap applies to
  *decoded* bytes and a gzip bomb never inflates beyond it (memory stays flat).
- Redirects are followed by hand: each hop is counted, loops are detected, the scheme is checked,
  and the guard in the transport checks the address of every hop before connecting.
- Conditional GET (``If-None-Match`` / ``If-Modified-Since``); 304 comes back as ``not_modified``.
- 429/503 carry their ``Retry-After`` in the :class:`FetchError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from streams.poller.config import check_feed_url
from streams.poller.errors import FetchError
from streams.poller.guard import AddressGuard, GuardedTransport
from streams.poller.schedule import parse_max_age, parse_retry_after

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers feedparser uses for encoding detection, base URIs and language; plus our validators.
_KEPT_HEADERS = (
    "content-type",
    "content-location",
    "content-language",
    "etag",
    "last-modified",
    "cache-control",
)
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchOptions:
    """Deadlines, caps and limits of the fetcher."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 64
    per_host_concurrency: int = 2
    user_agent: str = "Wirewatch/0.1 feed poller (+https://github.com/wirewatch)"


@dataclass(frozen=True)
class Validators:
    """What the server gave us last time, sent back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A completed fetch: a body to parse, or ``not_modified``."""

    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    not_modified: bool
    wire_bytes: int
    validators: Validators
    max_age_s: float | None = None
    redirects: tuple[str, ...] = field(default=())


@dataclass
class _HostSlot:
    """The per-host limit, and how many fetches hold or wait for it."""

    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass(frozen=True)
class _Redirect:
    location: str
    wire_bytes: int


def _header_bytes(response: httpx.Response) -> int:
    # Status line plus "name: value\r\n" per header: what the answer cost on the wire.
    return 17 + sum(len(k) + len(v) + 4 for k, v in response.headers.raw)


class Fetcher:
    """Fetches feeds; one instance per poller, shared by all feeds (holds the connection pool)."""

    def __init__(
        self,
        options: FetchOptions,
        guard: AddressGuard,
        *,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.options = options
        self._guard = guard
        self._network_backend = network_backend
        self._client_factory = client_factory or self._default_client
        self._client: httpx.AsyncClient | None = None
        self._all = asyncio.Semaphore(options.concurrency)
        self._hosts: dict[str, _HostSlot] = {}
        self._now = clock or (lambda: datetime.now(UTC))

    def _default_client(self) -> httpx.AsyncClient:
        o = self.options
        limits = httpx.Limits(
            max_connections=o.concurrency, max_keepalive_connections=o.concurrency
        )
        return httpx.AsyncClient(
            transport=GuardedTransport(
                self._guard, limits=limits, inner_backend=self._network_backend
            ),
            timeout=httpx.Timeout(
                connect=o.connect_timeout_s,
                read=o.read_timeout_s,
                write=o.read_timeout_s,
                pool=o.total_timeout_s,
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def hosts_tracked(self) -> int:
        """Hosts with a fetch in flight or waiting (the size of the per-host map)."""
        return len(self._hosts)

    @contextlib.asynccontextmanager
    async def _host_slot(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = _HostSlot(
                asyncio.Semaphore(self.options.per_host_concurrency)
            )
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                # Nobody holds or waits for it: a host seen once does not stay in memory.
                del self._hosts[host]

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """Fetch ``url``; raise :class:`FetchError` with a kind for anything but 2xx/304."""
        if self._client is None:
            self._client = self._client_factory()
        loop = asyncio.get_running_loop()
        total = self.options.total_timeout_s
        visited = [url]
        current = url
        wire_bytes = 0
        deadline: float | None = None
        async with self._all:
            for _hop in range(self.options.max_redirects + 1):
                async with self._host_slot(current):
                    # The deadline starts once the first slot is ours: queueing behind other
                    # feeds of the same host is politeness, not the server's slowness.
                    deadline = deadline or loop.time() + total
                    try:
                        async with asyncio.timeout_at(deadline):
                            outcome = await self._one_hop(current, validators)
                    except TimeoutError:
                        msg = f"no complete answer within the {total:g}s deadline"
                        raise FetchError(msg, kind="timeout") from None
                if isinstance(outcome, FetchResult):
                    return FetchResult(
                        url=outcome.url,
                        status=outcome.status,
                        body=outcome.body,
                        headers=outcome.headers,
                        not_modified=outcome.not_modified,
                        wire_bytes=wire_bytes + outcome.wire_bytes,
                        validators=outcome.validators,
                        max_age_s=outcome.max_age_s,
                        redirects=tuple(visited[1:]),
                    )
                wire_bytes += outcome.wire_bytes
                target = urljoin(current, outcome.location)
                try:
                    target = check_feed_url(target)
                except ValueError as exc:
                    msg = f"redirect to a refused URL: {exc}"
                    raise FetchError(msg, kind="scheme") from None
                if target in visited:
                    msg = f"redirect loop after {len(visited) - 1} hops"
                    raise FetchError(msg, kind="redirects")
                visited.append(target)
                current = target
        msg = f"more than {self.options.max_redirects} redirects"
        raise FetchError(msg, kind="redirects")

    async def _one_hop(self, url: str, validators: Validators | None) -> FetchResult | _Redirect:
        assert self._client is not None
        headers = {
            "User-Agent": self.options.user_agent,
            "Accept": _ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                return await self._handle(url, response)
        except httpx.TimeoutException as exc:
            msg = f"{type(exc).__name__}: the server was too slow"
            raise FetchError(msg, kind="timeout") from None
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError) as exc:
            msg = f"broken HTTP answer: {exc}"
            raise FetchError(msg, kind="protocol") from None
        except httpx.UnsupportedProtocol as exc:
            msg = str(exc)
            raise FetchError(msg, kind="scheme") from None
        except httpx.TransportError as exc:
            msg = f"{type(exc).__name__}: {exc}"
            raise FetchError(msg, kind="connection") from None

    async def _handle(self, url: str, response: httpx.Response) -> FetchResult | _Redirect:
        status = response.status_code
        head_bytes = _header_bytes(response)
        if status in _REDIRECTS:
            location = response.headers.get("location")
            if not location:
                msg = f"HTTP {status} without a Location header"
                raise FetchError(msg, kind="protocol")
            return _Redirect(location, head_bytes)
        validators = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
        kept = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
        max_age = parse_max_age(response.headers.get("cache-control"))
        if status == 304:
            return FetchResult(url, status, b"", kept, True, head_bytes, validators, max_age)
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._now())
            kind = "rate_limited" if status == 429 else "unavailable"
            shown = f", Retry-After {retry_after:g}s" if retry_after is not None else ""
            msg = f"HTTP {status}{shown}"
            raise FetchError(msg, kind=kind, retry_after=retry_after)
        if status in (404, 410):
            kind = "not_found" if status == 404 else "gone"
            msg = f"HTTP {status}"
            raise FetchError(msg, kind=kind)
        if not 200 <= status < 300:
            msg = f"HTTP {status}"
            raise FetchError(msg, kind="http_status")
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if declared.isdigit() and encoding == "identity" and int(declared) > self.options.max_bytes:
            msg = f"too large: Content-Length {declared} > cap {self.options.max_bytes}"
            raise FetchError(msg, kind="too_large")
        body, raw = await self._read_capped(response, encoding)
        return FetchResult(url, status, body, kept, False, head_bytes + raw, validators, max_age)

    async def _read_capped(self, response: httpx.Response, encoding: str) -> tuple[bytes, int]:
        cap = self.options.max_bytes
        if encoding in ("gzip", "x-gzip", "deflate"):
            # wbits 47: zlib or gzip header, detected automatically.
            decoder: zlib._Decompress | None = zlib.decompressobj(wbits=47)
        elif encoding in ("identity", ""):
            decoder = None
        else:
            msg = f"unsupported Content-Encoding {encoding!r}"
            raise FetchError(msg, kind="encoding")
        out = bytearray()
        raw = 0
        too_large = f"too large: more than {cap} decoded bytes"
        try:
            async for chunk in response.aiter_raw():
                raw += len(chunk)
                if decoder is None:
                    out += chunk
                    if len(out) > cap:
                        raise FetchError(too_large, kind="too_large")
                    continue
                data = chunk
                while data:
                    # Decompress at most what still fits (+1 to detect overflow): bounded memory.
                    out += decoder.decompress(data, cap + 1 - len(out))
                    if len(out) > cap:
                        raise FetchError(too_large, kind="too_large")
                    data = decoder.unconsumed_tail
            if decoder is not None:
                out += decoder.flush(cap + 1 - len(out))
                if len(out) > cap:
                    raise FetchError(too_large, kind="too_large")
        except zlib.error as exc:
            msg = f"corrupt {encoding} body: {exc}"
            raise FetchError(msg, kind="encoding") from None
        return bytes(out), raw
