"""Delivery through a bot token: ``chat.postMessage`` with slack-sdk's ``AsyncWebClient``.

Rate limits (429 with ``Retry-After``) and server errors (500/502/503/504) are retried inside the
client by bounded handlers (:mod:`alerts.sinks.retry`). A connection that breaks after the request
went out is different: Slack may have posted. Before posting again the sink looks for the message
in the channel's history by its metadata (``find_posted``), so a retry does not post twice.
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
from alerts.outcomes import DeliveryOutcome, outcome_for_error
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
# Errors Slack answers with HTTP 200 when it is itself in trouble; retried like a lost connection.
MAYBE_POSTED_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


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
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._base_url = base_url
        self._max_retries = max_retries
        self._history_pages = history_pages
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
        # Posting must not be blindly retried after a broken connection; reading may.
        self._post_client = AsyncWebClient(
            **common, retry_handlers=[self.rate_limit, self.server_errors]
        )
        self._read_client = AsyncWebClient(
            **common, retry_handlers=[self.rate_limit, self.server_errors, self.connection_errors]
        )
        self._channel_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SlackBotSink(base_url={self._base_url!r}, token=**********)"

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        """Post ``message`` to ``channel`` with the alert ids in its metadata."""
        started = time.time()
        reason = "connection_error"
        for attempt in range(self._max_retries + 1):
            if attempt:
                await self._sleep(backoff(attempt - 1))
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
                if outcome.reason not in MAYBE_POSTED_ERRORS:
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
            # The request may have been posted: look before posting again.
            posted = await self._posted_ts(channel, alert_ids, oldest=started - 60)
            if posted and len(posted) == len(set(alert_ids)):
                log.info("slack post to %s found in history after %s", channel, reason)
                return DeliveryOutcome.posted(next(iter(posted.values())))
        log.warning("slack post to %s failed: %s after %d attempts", channel, reason, attempt + 1)
        return DeliveryOutcome.failed(f"{reason} after {self._max_retries + 1} attempts")

    async def find_posted(
        self, channel: str, alert_ids: list[str], oldest_ts: str | float | None = None
    ) -> set[str]:
        """The ids among ``alert_ids`` that a message in ``channel`` already carries.

        Reads ``conversations.history`` (scope ``channels:history``; ``groups:history`` for
        private channels) with metadata. A ``#name`` is resolved through ``conversations.list``
        (scope ``channels:read``) unless a post already told us its id. Returns an empty set when
        the history cannot be read.
        """
        oldest = float(oldest_ts) if oldest_ts is not None else None
        return set(await self._posted_ts(channel, alert_ids, oldest))

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

    async def _posted_ts(
        self, channel: str, alert_ids: list[str], oldest: float | None
    ) -> dict[str, str]:
        wanted = set(alert_ids)
        found: dict[str, str] = {}
        channel_id = await self._resolve(channel)
        if channel_id is None or not wanted:
            return found
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
                    break
        except SlackApiError as exc:
            code = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
            log.warning("cannot read history of %s: %s", channel, error_code(code))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("cannot read history of %s: %s", channel, type(exc).__name__)
        return found

    async def _resolve(self, channel: str) -> str | None:
        """The channel id of ``channel`` (an id, or a #name found once through the API)."""
        if _CHANNEL_ID.match(channel):
            return channel
        if channel in self._channel_ids:
            return self._channel_ids[channel]
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
                        return str(conversation["id"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            code = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
            log.warning("cannot resolve channel %s: %s", channel, error_code(code))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("cannot resolve channel %s: %s", channel, type(exc).__name__)
        return None
