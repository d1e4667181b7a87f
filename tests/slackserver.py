"""A Slack-compatible loopback server for tests: Web API and incoming webhooks, faulty on demand.

It runs aiohttp.web on 127.0.0.1 (random port) in its own thread and event loop, so synchronous
tests, asynchronous tests and worker subprocesses can all talk to it. It behaves like Slack where
Wirewatch depends on it:

- ``POST /api/chat.postMessage`` (JSON or form): checks ``Authorization: Bearer <token>`` (a bad
  one answers HTTP 200 ``{"ok": false, "error": "invalid_auth"}``), validates the payload shape and
  Block Kit limits (``invalid_blocks``, ``msg_too_long``, ``no_text``, ``invalid_metadata_format``),
  records the request and keeps the message (with its metadata) in the channel's history.
- ``/api/conversations.history`` (newest first, ``oldest``, ``limit``, cursor paging, metadata only
  with ``include_all_metadata``), ``/api/conversations.list``, ``/api/auth.test``.
- ``POST /services/<secret path>``: an incoming webhook posting to ``webhook_channel``; a wrong
  path answers 403 ``invalid_token`` (Slack answers webhook errors as text, not JSON).

Faults are scripted with :meth:`SlackServer.fail`, globally, per method or per channel, for a
number of requests, for a number of seconds from the first request it answers (``seconds=``: the
storm's length is the server's, not the test's), or for ever:

- ``ratelimited`` (429, with or without ``Retry-After``);
- any error code (``invalid_auth``, ``channel_not_found``, ``is_archived``, ``missing_scope``...);
- ``status:503`` (a 5xx with an HTML body), ``reset`` (the connection is dropped before anything
  is done), ``slow:<seconds>`` (a delay before anything);
- the "did it post?" cases, where the message is stored first: ``reset_after_post`` (then the
  connection is dropped), ``after_post:<code>`` (then an error code), ``status_after_post:<n>``
  (then a 5xx), ``slow_after_post:<seconds>`` (then the answer comes that much later, past a
  client's deadline).

Every API answer carries ``x-oauth-scopes`` (``scopes``), as Slack's does.

Use the ``slack_server`` fixture (import it into a conftest) or ``with SlackServer() as server``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

VALID_TOKEN = "xoxb-test-0123456789-secret-token"
WEBHOOK_PATH = "/services/T000TEST/B000TEST/webhooksecret0123456789"
BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text"}


@dataclass
class Recorded:
    """One request the server received (after auth and validation, whatever the answer was)."""

    method: str
    channel: str | None
    text: str | None
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    body: dict[str, Any]
    authorized: bool
    answer: str = "ok"
    stored: bool = False  # the message was kept in the channel, whatever the answer said
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    kind: str
    remaining: int | None
    channel: str | None
    method: str | None
    retry_after: str | None
    seconds: float | None = None  # a fault scripted for a duration, from its first request
    until: float | None = None


@dataclass
class _Channel:
    id: str
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)


class SlackServer:
    """The loopback Slack; see the module docstring."""

    def __init__(
        self,
        token: str = VALID_TOKEN,
        channels: tuple[str, ...] = ("wirewatch", "alerts", "news", "other"),
        webhook_channel: str = "wirewatch",
        scopes: str = "chat:write,channels:history,groups:history,channels:read,groups:read",
    ) -> None:
        self.token = token
        self.scopes = scopes
        self.webhook_channel = webhook_channel
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._channels: dict[str, _Channel] = {}
        self._last_ts = 0.0
        for name in channels:
            self.add_channel(name)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SlackServer:
        """Start serving in a thread; returns once the port is bound."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=4 * 1024 * 1024)
            app.router.add_route("*", "/api/{method}", self._api)
            app.router.add_post("/services/{tail:.*}", self._webhook)
            app.on_response_prepare.append(self._add_scopes)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="slackserver", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """Base URL for ``AsyncWebClient(base_url=...)`` / ``WIREWATCH_SLACK_API_URL``."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        """The valid incoming-webhook URL (a secret, as in real Slack)."""
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    # --- scripting and inspection ---------------------------------------------------------------

    def add_channel(self, name: str) -> str:
        """Create a channel the bot is in; returns its id."""
        channel_id = "C" + hashlib.sha1(name.encode()).hexdigest()[:9].upper()
        with self._lock:
            self._channels.setdefault(channel_id, _Channel(channel_id, name))
        return channel_id

    def channel_id(self, name: str) -> str:
        """The id of channel ``name`` (with or without ``#``)."""
        found = self._find_channel(name)
        assert found is not None, name
        return found.id

    def fail(
        self,
        kind: str,
        *,
        times: int | None = 1,
        channel: str | None = None,
        method: str | None = None,
        retry_after: str | int | float | None = None,
        seconds: float | None = None,
    ) -> None:
        """Answer matching requests with fault ``kind``: the next ``times`` (``None``: all), or
        all of them for ``seconds`` from the first one it answers (a storm of that length)."""
        with self._lock:
            self._faults.append(
                _Fault(
                    kind,
                    None if seconds is not None else times,
                    channel.lstrip("#") if channel else None,
                    method,
                    None if retry_after is None else str(retry_after),
                    seconds,
                )
            )

    def clear_faults(self) -> None:
        """Behave normally again."""
        with self._lock:
            self._faults.clear()

    def posts(self, channel: str | None = None) -> list[Recorded]:
        """Messages actually posted (kept in a channel), optionally for one channel name."""
        with self._lock:
            found = [
                r for r in self.requests if r.method in ("chat.postMessage", "webhook") and r.stored
            ]
        if channel is None:
            return found
        name = channel.lstrip("#")
        return [r for r in found if (r.channel or "").lstrip("#") in (name, self.channel_id(name))]

    def react(self, channel: str, ts: str, name: str, user: str = "U0READER") -> None:
        """Add reaction ``name`` by ``user`` to message ``ts`` of ``channel``, as a reader would.

        The message then carries ``reactions`` (``name``, ``users``, ``count``) in
        ``conversations.history``, as in Slack.
        """
        found = self._find_channel(channel)
        assert found is not None, channel
        with self._lock:
            message = next(m for m in found.messages if m["ts"] == ts)
            reactions = message.setdefault("reactions", [])
            reaction = next((r for r in reactions if r["name"] == name), None)
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                reactions.append(reaction)
            if user not in reaction["users"]:
                reaction["users"].append(user)
                reaction["count"] += 1

    def history(self, channel: str) -> list[dict[str, Any]]:
        """Messages kept for ``channel``, oldest first."""
        found = self._find_channel(channel)
        return list(found.messages) if found else []

    # --- handlers -------------------------------------------------------------------------------

    def _find_channel(self, value: str | None) -> _Channel | None:
        if not value:
            return None
        with self._lock:
            if value in self._channels:
                return self._channels[value]
            name = value.lstrip("#")
            return next((c for c in self._channels.values() if c.name == name), None)

    def _take_fault(self, method: str, channel: str | None) -> _Fault | None:
        names = set()
        if channel:
            found = self._find_channel(channel)
            names = {channel.lstrip("#")} | ({found.name, found.id} if found else set())
        with self._lock:
            now = time.monotonic()
            self._faults = [f for f in self._faults if f.until is None or f.until > now]
            for fault in self._faults:
                if fault.method is not None and fault.method != method:
                    continue
                if fault.channel is not None and fault.channel not in names:
                    continue
                if fault.seconds is not None and fault.until is None:
                    fault.until = now + fault.seconds
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def _read_body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                body.update(json.loads(raw or b"{}"))
            else:
                body.update(dict(parse_qsl(raw.decode())))
        for key in ("blocks", "metadata"):
            if isinstance(body.get(key), str):
                try:
                    body[key] = json.loads(body[key])
                except ValueError:
                    body[key] = "<invalid json>"
        return body

    async def _add_scopes(self, request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/api/"):
            response.headers["x-oauth-scopes"] = self.scopes

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        body = await self._read_body(request)
        authorized = request.headers.get("Authorization") == f"Bearer {self.token}"
        channel = body.get("channel")
        record = Recorded(
            method,
            channel,
            body.get("text"),
            body.get("blocks") if isinstance(body.get("blocks"), list) else None,
            body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
            body,
            authorized,
        )
        with self._lock:
            self.requests.append(record)
        fault = self._take_fault(method, channel)
        if fault is not None:
            answer = await self._fault(request, fault, record)
            if answer is not None:
                return answer
        if not authorized:
            return self._error(record, "invalid_auth")
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "team": "Test", "user": "wirewatch", "user_id": "U0BOT"}
            )
        if method == "chat.postMessage":
            return self._post(record, body)
        if method == "conversations.history":
            return self._history(record, body)
        if method == "conversations.list":
            with self._lock:
                listed = [{"id": c.id, "name": c.name} for c in self._channels.values()]
            return web.json_response({"ok": True, "channels": listed, "response_metadata": {}})
        return self._error(record, "unknown_method")

    async def _fault(
        self, request: web.Request, fault: _Fault, record: Recorded
    ) -> web.StreamResponse | None:
        kind = fault.kind
        if kind == "ratelimited":
            record.answer = "ratelimited"
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        if kind.startswith("status:"):
            status = int(kind.split(":", 1)[1])
            record.answer = kind
            return web.Response(
                status=status, text="<html>upstream trouble</html>", content_type="text/html"
            )
        if kind.startswith("slow:"):
            await asyncio.sleep(float(kind.split(":", 1)[1]))
            return None
        if kind.startswith("after_post:"):
            if record.authorized:
                self._post(record, record.body)
            return self._error(record, kind.split(":", 1)[1])
        if kind.startswith("status_after_post:"):
            if record.authorized:
                self._post(record, record.body)
            status = int(kind.split(":", 1)[1])
            record.answer = kind
            return web.Response(
                status=status, text="<html>upstream trouble</html>", content_type="text/html"
            )
        if kind.startswith("slow_after_post:"):
            answer = self._post(record, record.body) if record.authorized else None
            record.answer = kind if record.answer == "ok" else record.answer
            await asyncio.sleep(float(kind.split(":", 1)[1]))
            return answer
        if kind in ("reset", "reset_after_post"):
            if kind == "reset_after_post" and record.authorized:
                self._post(record, record.body)
            else:
                record.answer = "reset"
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError  # aiohttp drops the request without answering
        return self._error(record, kind)

    def _error(self, record: Recorded, code: str) -> web.Response:
        record.answer = code
        return web.json_response({"ok": False, "error": code})

    def _post(self, record: Recorded, body: dict[str, Any]) -> web.Response:
        channel = self._find_channel(record.channel)
        if channel is None:
            return self._error(record, "channel_not_found")
        problem = validate_message(body)
        if problem:
            return self._error(record, problem)
        with self._lock:
            # Real Slack timestamps: seconds since the epoch, unique and increasing per channel.
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            ts = f"{self._last_ts:.6f}"
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": record.text or ""}
        if record.blocks is not None:
            message["blocks"] = record.blocks
        if record.metadata is not None:
            message["metadata"] = record.metadata
        with self._lock:
            channel.messages.append(message)
        record.answer = "ok"
        record.stored = True
        return web.json_response({"ok": True, "channel": channel.id, "ts": ts, "message": message})

    def _history(self, record: Recorded, body: dict[str, Any]) -> web.Response:
        channel = self._find_channel(record.channel)
        if channel is None:
            return self._error(record, "channel_not_found")
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        oldest = float(body.get("oldest") or 0)
        limit = int(body.get("limit") or 100)
        start = int(body.get("cursor") or 0)
        messages = [m for m in reversed(self.history(channel.id)) if float(m["ts"]) > oldest]
        page = messages[start : start + limit]
        if not with_metadata:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(messages)
        return web.json_response(
            {
                "ok": True,
                "messages": page,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        )

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        record = Recorded(
            "webhook",
            self.webhook_channel,
            body.get("text"),
            body.get("blocks") if isinstance(body.get("blocks"), list) else None,
            body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
            body,
            request.path == WEBHOOK_PATH,
        )
        with self._lock:
            self.requests.append(record)
        fault = self._take_fault("webhook", self.webhook_channel)
        if fault is not None:
            if fault.kind in ("ratelimited",) or fault.kind.startswith(
                ("status:", "slow:", "reset")
            ):
                answer = await self._fault(request, fault, record)
                if answer is not None:
                    if fault.kind == "ratelimited":
                        return web.Response(status=429, text="rate_limited", headers=answer.headers)
                    return answer
            else:
                record.answer = fault.kind
                return web.Response(status=_WEBHOOK_STATUS.get(fault.kind, 400), text=fault.kind)
        if not record.authorized:
            record.answer = "invalid_token"
            return web.Response(status=403, text="invalid_token")
        problem = validate_message(body)
        if problem:
            record.answer = problem
            return web.Response(status=400, text=problem)
        record.channel = self.webhook_channel
        self._post(record, body)
        return web.Response(text="ok")


_WEBHOOK_STATUS = {
    "invalid_token": 403,
    "no_service": 404,
    "channel_not_found": 404,
    "channel_is_archived": 410,
    "action_prohibited": 403,
}


def validate_message(body: dict[str, Any]) -> str | None:
    """The error code Slack would answer for this message body, or None when it is acceptable."""
    text = body.get("text")
    blocks = body.get("blocks")
    if not text and not blocks:
        return "no_text"
    if text is not None and (not isinstance(text, str) or len(text) > 40_000):
        return "msg_too_long"
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > 50:
            return "invalid_blocks"
        for block in blocks:
            if not _valid_block(block):
                return "invalid_blocks"
    meta = body.get("metadata")
    if meta is not None and (
        not isinstance(meta, dict)
        or not isinstance(meta.get("event_type"), str)
        or not isinstance(meta.get("event_payload"), dict)
    ):
        return "invalid_metadata_format"
    return None


def _valid_block(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return False
    kind = block["type"]
    if kind in ("header", "section"):
        text = block.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("text"), str):
            return False
        if not text["text"]:
            return False
        if kind == "header":
            return text.get("type") == "plain_text" and len(text["text"]) <= 150
        return text.get("type") in ("mrkdwn", "plain_text") and len(text["text"]) <= 3000
    if kind == "context":
        elements = block.get("elements")
        return (
            isinstance(elements, list)
            and 0 < len(elements) <= 10
            and all(isinstance(e, dict) and len(str(e.get("text", ""))) <= 3000 for e in elements)
        )
    return True


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    """A fresh loopback Slack for one test."""
    with SlackServer() as server:
        yield server
