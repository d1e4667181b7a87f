"""Delivery through a bot token: ``chat.postMessage`` with slack-sdk's ``AsyncWebClient``.

A post is never retried blind. Rate limits (429) are retried inside the client, bounded, and then
handed to the dispatcher, which waits for as long as they last (nothing was posted). A post that
ends without a definite answer (a 5xx, Slack's own ``internal_error``, a reset, a timeout) may
have been posted: the sink waits out a settle time (a request still in flight has had its own
deadline again to land), then reads the channel's history for the alert ids in the message
metadata. Found: posted. Not found (the history was read completely): posted again, bounded, then
``HELD``. Could not tell (no history scope, a 429 on history, too many newer messages):
``UNCERTAIN``, which the caller holds instead of posting.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from alerts.formatting import SlackMessage
from alerts.outcomes import DeliveryOutcome, HistoryCheck, OutcomeKind, outcome_for_error
from alerts.sinks.common import METADATA_EVENT_TYPE, backoff, error_code, metadata, sdk_logger
from alerts.sinks.retry import (
    BackoffConnectionErrorHandler,
    BackoffServerErrorHandler,
    PacedRateLimitHandler,
    Sleep,
    retry_after_seconds,
)

log = logging.getLogger(__name__)
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
# Errors Slack answers with HTTP 200 when it is itself in trouble: part of the call may have run.
MAYBE_POSTED_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
HISTORY_SCOPES = ("channels:history", "groups:history")
# History is read from a little before the post started: clocks differ, ts are Slack's.
_HISTORY_MARGIN_SECONDS = 60.0


class SlackBotSink:
    """Posts with a bot token; checks history before re-posting after a lost connection."""

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = "https://slack.com/api/",
        timeout: float = 10.0,
        max_retries: int = 3,
        rate_limit_retries: int = 8,
        history_pages: int = 5,
        settle_seconds: float | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._base_url = base_url
        self._max_retries = max_retries
        self._history_pages = history_pages
        self._settle = timeout if settle_seconds is None else settle_seconds
        self._sleep = sleep
        self.rate_limit = PacedRateLimitHandler(rate_limit_retries, sleep)
        self.server_errors = BackoffServerErrorHandler(max_retries, sleep)
        self.connection_errors = BackoffConnectionErrorHandler(max_retries, sleep)
        common: dict[str, Any] = {
            "token": secret,
            "base_url": base_url,
            "timeout": timeout,
            "logger": sdk_logger(),
        }
        # Posting is retried inside the client only on 429 (nothing was posted); a 5xx or a broken
        # connection may have posted, so the sink checks history itself. Reading may be retried.
        self._post_client = AsyncWebClient(**common, retry_handlers=[self.rate_limit])
        self._read_client = AsyncWebClient(
            **common, retry_handlers=[self.rate_limit, self.server_errors, self.connection_errors]
        )
        self._channel_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SlackBotSink(base_url={self._base_url!r}, token=**********)"

    can_verify = True  # it can read Slack's history (given the scope)

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        """Post ``message`` to ``channel`` with the alert ids in its metadata."""
        reason = "connection_refused"
        for attempt in range(self._max_retries + 1):
            if attempt:
                await self._sleep(backoff(attempt - 1))
            started = time.time()
            try:
                response = await self._post_client.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=message.blocks,
                    unfurl_links=message.unfurl_links,
                    unfurl_media=message.unfurl_media,
                    link_names=False,
                    metadata=metadata(alert_ids),
                )
            except SlackApiError as exc:
                outcome = self._api_error(exc, channel)
                if outcome.kind is not OutcomeKind.FAILED or not _maybe_posted(exc, outcome):
                    return outcome
                reason = outcome.reason  # Slack's own trouble: part of the call may have happened
            except aiohttp.ClientConnectorError:
                reason = "connection_refused"  # never reached Slack: safe to try again
                continue
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                reason = "timeout" if isinstance(exc, TimeoutError) else "connection_lost"
            else:
                channel_id = response.get("channel")
                if isinstance(channel_id, str):
                    self._channel_ids[channel] = channel_id
                return DeliveryOutcome.posted(response.get("ts"), channel_id)
            # Maybe posted. Let a request still in flight land, then look before posting again.
            log.warning("slack post to %s ended without an answer (%s): checking", channel, reason)
            await self._sleep(self._settle)
            check = await self.check_posted(channel, alert_ids, started - _HISTORY_MARGIN_SECONDS)
            if alert_ids and all(alert_id in check.found for alert_id in alert_ids):
                log.info("slack post to %s found in history after %s", channel, reason)
                return DeliveryOutcome.posted(check.found[alert_ids[0]])
            if not check.complete:
                log.warning(
                    "slack post to %s may have posted (%s) and history cannot tell (%s): held",
                    channel,
                    reason,
                    check.reason,
                )
                return DeliveryOutcome.uncertain(f"{reason}; replay check: {check.reason}")
        log.warning(
            "slack post to %s not posted: %s after %d attempts", channel, reason, attempt + 1
        )
        return DeliveryOutcome.held(f"{reason} after {self._max_retries + 1} attempts")

    async def find_posted(
        self, channel: str, alert_ids: list[str], oldest_ts: str | float | None = None
    ) -> set[str]:
        """The ids among ``alert_ids`` that a message in ``channel`` already carries."""
        oldest = float(oldest_ts) if oldest_ts is not None else None
        return set((await self.check_posted(channel, alert_ids, oldest)).found)

    async def check_posted(
        self, channel: str, alert_ids: list[str], oldest: float | None = None
    ) -> HistoryCheck:
        """Which of ``alert_ids`` a message in ``channel`` carries, and whether that is certain.

        Reads ``conversations.history`` (scope ``channels:history``; ``groups:history`` for
        private channels) with metadata, at most ``history_pages`` pages of 200 messages newer
        than ``oldest``. A ``#name`` is resolved through ``conversations.list`` (scope
        ``channels:read``) unless a post already told us its id.
        """
        wanted = set(alert_ids)
        found: dict[str, str] = {}
        if not wanted:
            return HistoryCheck(found, complete=True)
        channel_id, problem = await self._resolve(channel)
        if channel_id is None:
            return HistoryCheck(found, complete=False, reason=problem)
        cursor = None
        try:
            for _ in range(self._history_pages):
                response = await self._read_client.conversations_history(
                    channel=channel_id,
                    include_all_metadata=True,
                    limit=200,
                    oldest=f"{oldest:.6f}" if oldest is not None else None,
                    cursor=cursor,
                )
                for message in response.get("messages") or []:
                    meta = message.get("metadata") or {}
                    if meta.get("event_type") != METADATA_EVENT_TYPE:
                        continue
                    ids = (meta.get("event_payload") or {}).get("alert_ids") or []
                    for alert_id in wanted.intersection(ids):
                        found.setdefault(alert_id, message.get("ts", ""))
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if found.keys() >= wanted or not cursor:
                    return HistoryCheck(found, complete=True)
        except SlackApiError as exc:
            code = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
            problem = error_code(code) if code else f"http_{exc.response.status_code}"
            log.warning("cannot read history of %s: %s", channel, problem)
            return HistoryCheck(found, complete=False, reason=problem)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("cannot read history of %s: %s", channel, type(exc).__name__)
            return HistoryCheck(found, complete=False, reason=type(exc).__name__)
        pages = self._history_pages
        log.warning("history of %s has more than %d pages of newer messages", channel, pages)
        return HistoryCheck(found, complete=False, reason=f"more than {pages} pages of history")

    async def replay_check_problem(self) -> str | None:
        """Why the history check cannot work with this token, or None when it can (start-up).

        Reads the token's scopes from ``auth.test`` (Slack sends them in ``x-oauth-scopes``).
        """
        try:
            response = await self._read_client.auth_test()
        except SlackApiError as exc:
            code = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
            return f"auth.test failed: {error_code(code)}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return f"auth.test failed: {type(exc).__name__}"
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        raw = headers.get("x-oauth-scopes")
        raw = raw[0] if isinstance(raw, list) and raw else raw
        if not isinstance(raw, str):
            return None  # no scope list to read: the first check will tell
        scopes = {scope.strip() for scope in raw.split(",")}
        if not scopes.intersection(HISTORY_SCOPES):
            return "the token lacks channels:history (and groups:history)"
        return None

    async def aclose(self) -> None:
        """Nothing held open: each call uses its own HTTP session."""

    # --- internals ----------------------------------------------------------------------------

    def _api_error(self, exc: SlackApiError, channel: str) -> DeliveryOutcome:
        response = exc.response
        data = response.data if isinstance(response.data, dict) else {}
        status = response.status_code
        code = error_code(data.get("error")) if data.get("error") else f"http_{status}"
        retry_after = None
        if status == 429:
            code = "ratelimited"
            retry_after = retry_after_seconds(response.headers or {})
        outcome = outcome_for_error(code, retry_after)
        log.warning("slack refused a post to %s: %s (%s)", channel, code, outcome.kind.value)
        return outcome

    async def _resolve(self, channel: str) -> tuple[str | None, str]:
        """The channel id of ``channel`` (an id, or a #name found once through the API)."""
        if _CHANNEL_ID.match(channel):
            return channel, ""
        if channel in self._channel_ids:
            return self._channel_ids[channel], ""
        name = channel.lstrip("#")
        cursor = None
        try:
            for _ in range(self._history_pages):
                response = await self._read_client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                )
                for conversation in response.get("channels") or []:
                    if conversation.get("name") == name and conversation.get("id"):
                        self._channel_ids[channel] = conversation["id"]
                        return str(conversation["id"]), ""
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            code = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
            problem = error_code(code) if code else f"http_{exc.response.status_code}"
            log.warning("cannot resolve channel %s: %s", channel, problem)
            return None, f"cannot resolve {channel}: {problem}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("cannot resolve channel %s: %s", channel, type(exc).__name__)
            return None, f"cannot resolve {channel}: {type(exc).__name__}"
        return None, f"channel {channel} not found"


def _maybe_posted(exc: SlackApiError, outcome: DeliveryOutcome) -> bool:
    """True when a refusal may still have posted: a 5xx, or Slack's own trouble codes."""
    return exc.response.status_code >= 500 or outcome.reason in MAYBE_POSTED_ERRORS
