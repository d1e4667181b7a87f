"""A loopback HTTP feed server for tests and benchmarks, misbehaving on demand.

It speaks just enough HTTP/1.1 by hand (asyncio streams, one request per connection) that it can
also break the protocol on purpose: hang, trickle, lie about Content-Length, cut a body short.
It binds 127.0.0.1 only and runs its own event loop in a thread, so synchronous and asynchronous
tests can use it alike.

Paths:

- ``/files/<path>``: a file under ``root`` with ETag/Last-Modified (304 on a match);
  ``?ct=<type>`` overrides the Content-Type, ``?gzip=1`` compresses the body.
- ``/doc/<name>``: an in-memory document set with :meth:`FeedServer.put` (validators too).
- ``/hang``: accepts and never answers. ``/trickle``: one byte every ``?every=`` seconds.
- ``/bomb?mb=N``: gzip of N MiB of zeros (a few KiB on the wire per MiB).
- ``/huge?mb=N``: N MiB of XML, streamed. ``/lying?declared=D&actual=A``: Content-Length D, A
  bytes sent.
- ``/redirect/<n>?to=<path>``: a chain of n redirects ending at ``to``; ``/loop/a`` <-> ``/loop/b``.
- ``/status/<code>?retry_after=<value>``: that status, optionally with Retry-After.
- ``/truncated/<path>?keep=<fraction>``: the first part of a file.
- ``/redirect-to?url=<absolute>``: one redirect anywhere (tests of the address guard).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

_CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
    ".ndjson": "application/x-ndjson",
}


@dataclass
class Request:
    """What the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Response:
    """What to answer; ``body`` may be an async iterator (streamed, no Content-Length)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""
    content_length: int | None = None


Handler = Callable[[Request], Awaitable[Response] | Response]

_BOMB_CACHE: dict[int, bytes] = {}


def gzip_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzip-compressed (cached per size)."""
    if mib not in _BOMB_CACHE:
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        block = bytes(1024 * 1024)
        parts = [compressor.compress(block) for _ in range(mib)]
        parts.append(compressor.flush())
        _BOMB_CACHE[mib] = b"".join(parts)
    return _BOMB_CACHE[mib]


class FeedServer:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, root: Path | None = None, *, latency_s: float = 0.0) -> None:
        self.root = root
        self.latency_s = latency_s
        self.routes: dict[str, Handler] = {}
        self.docs: dict[str, tuple[bytes, str, str]] = {}
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=2048)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="feedserver", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        """Stop serving; hanging and trickling answers are cut."""
        loop = self._loop
        if loop is None:
            return

        def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    # ----------------------------------------------------------------- helpers
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def file_url(self, relative: Path | str) -> str:
        """URL of a file under ``root``."""
        return self.url("/files/" + quote(str(relative)))

    def put(self, name: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        """Serve ``body`` at ``/doc/<name>`` (replacing any earlier one); return its URL."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        self.docs[name] = (body, content_type, etag)
        return self.url("/doc/" + quote(name))

    def hits(self, path: str) -> int:
        """How many requests asked for ``path``."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def requests_for(self, path: str) -> list[Request]:
        """The requests for ``path``, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # ----------------------------------------------------------------- serving
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            request = _parse_request(head)
            with self._lock:
                self.requests.append(request)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            response = await self._dispatch(request)
            await self._write(writer, response)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # a handler bug shows as a dropped connection, never kills the server
            import traceback

            traceback.print_exc()
        finally:
            writer.close()

    async def _write(self, writer: asyncio.StreamWriter, response: Response) -> None:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in response.headers]
        body = response.body
        if isinstance(body, bytes) and response.content_length is None:
            if response.status != 304:
                lines.append(f"Content-Length: {len(body)}")
        elif response.content_length is not None:
            lines.append(f"Content-Length: {response.content_length}")
        lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        writer.write(head)
        sent = len(head)
        if isinstance(body, bytes):
            writer.write(body)
            sent += len(body)
            await writer.drain()
        else:
            async for chunk in body:
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
        with self._lock:
            self.bytes_sent += sent

    async def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path in self.routes:
            result = self.routes[path](request)
            return await result if isinstance(result, Awaitable) else result
        first, _, rest = path.lstrip("/").partition("/")
        q = request.query
        if first == "files" and self.root is not None:
            return self._file(request, self.root / unquote(rest))
        if first == "doc" and unquote(rest) in self.docs:
            body, content_type, etag = self.docs[unquote(rest)]
            if request.headers.get("if-none-match") == etag:
                return Response(304, [("ETag", etag)])
            return Response(200, [("Content-Type", content_type), ("ETag", etag)], body)
        if first == "hang":
            await asyncio.sleep(3600)
        if first == "trickle":
            return Response(200, [("Content-Type", "application/rss+xml")], _trickle(q))
        if first == "bomb":
            body = gzip_bomb(int(q.get("mb", "1024")))
            return Response(
                200, [("Content-Type", "application/rss+xml"), ("Content-Encoding", "gzip")], body
            )
        if first == "huge":
            return Response(200, [("Content-Type", "application/rss+xml")], _huge(q))
        if first == "lying":
            declared = int(q.get("declared", "100"))
            actual = int(q.get("actual", "1000000"))
            return Response(
                200,
                [("Content-Type", "application/rss+xml")],
                _filler(actual),
                content_length=declared,
            )
        if first == "redirect":
            remaining = int(rest or "0")
            target = f"/redirect/{remaining - 1}" if remaining > 1 else q.get("to", "/status/404")
            if remaining > 1 and "to" in q:
                target += "?to=" + quote(q["to"])
            return Response(302, [("Location", target)])
        if first == "redirect-to":
            return Response(302, [("Location", q["url"])])
        if first == "loop":
            return Response(301, [("Location", "/loop/b" if rest == "a" else "/loop/a")])
        if first == "status":
            headers = [("Content-Type", "text/plain")]
            if "retry_after" in q:
                headers.append(("Retry-After", q["retry_after"]))
            return Response(int(rest), headers, b"status\n")
        if first == "truncated" and self.root is not None:
            data = (self.root / unquote(rest)).read_bytes()
            keep = int(len(data) * float(q.get("keep", "0.5")))
            return Response(200, [("Content-Type", "application/rss+xml")], data[:keep])
        return Response(404, [("Content-Type", "text/plain")], b"not found\n")

    def _file(self, request: Request, path: Path) -> Response:
        try:
            data = path.read_bytes()
        except OSError:
            return Response(404, [], b"not found\n")
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        modified = formatdate(int(path.stat().st_mtime), usegmt=True)
        validators = [("ETag", etag), ("Last-Modified", modified)]
        if request.headers.get("if-none-match") == etag:
            return Response(304, validators)
        since = request.headers.get("if-modified-since")
        if since and "if-none-match" not in request.headers:
            try:
                if parsedate_to_datetime(since).timestamp() >= int(path.stat().st_mtime):
                    return Response(304, validators)
            except (TypeError, ValueError):
                pass
        content_type = request.query.get("ct") or _CONTENT_TYPES.get(
            path.suffix.lower(), "application/octet-stream"
        )
        headers = [("Content-Type", content_type), *validators]
        if request.query.get("gzip"):
            data = gzip.compress(data)
            headers.append(("Content-Encoding", "gzip"))
        return Response(200, headers, data)


def _parse_request(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return Request(method, parts.path, dict(parse_qsl(parts.query)), headers)


async def _trickle(q: dict[str, str]) -> AsyncIterator[bytes]:
    every = float(q.get("every", "1"))
    yield b"<?xml version='1.0'?><rss><channel><title>slow"
    while True:
        await asyncio.sleep(every)
        yield b"w"


async def _huge(q: dict[str, str]) -> AsyncIterator[bytes]:
    mib = int(q.get("mb", "50"))
    yield b"<?xml version='1.0'?><rss version='2.0'><channel><title>huge</title>"
    item = b"<item><title>padding</title><description>" + b"x" * 900 + b"</description></item>"
    block = item * (1024 * 1024 // len(item))
    for _ in range(mib):
        yield block
    yield b"</channel></rss>"


async def _filler(size: int) -> AsyncIterator[bytes]:
    chunk = b"<!-- filler -->" * 4096
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        sent += len(piece)
        yield piece
