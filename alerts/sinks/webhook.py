"""Delivery through an incoming webhook with slack-sdk's ``AsyncWebhookClient``.

A webhook posts to the one channel it was created for and returns no ``ts``, so there is no
history to check: a 5xx, a reset or a timeout after the request went out may have posted, and the
sink says so (``UNCERTAIN``) instead of retrying; what happens next is the operator's choice
(``WIREWATCH_SLACK_PENDING_REPLAY``: post again, at-least-once, or park). A refused connection is
retried, bounded; a 429 is handed to the dispatcher, which waits. The webhook URL is the secret:
it never appears in an outcome, a log line or a ``repr``.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from pydantic import SecretStr
from slack_sdk.webhook.async_client import AsyncWebhookClient

from alerts.formatting import SlackMessage
from alerts.outcomes import DeliveryOutcome, outcome_for_error
from alerts.sinks.common import backoff, error_code, metadata, sdk_logger
from alerts.sinks.retry import RETRYABLE_STATUSES, PacedRateLimitHandler, Sleep, retry_after_seconds

log = logging.getLogger(__name__)


class SlackWebhookSink:
    """Posts to an incoming-webhook URL (the channel is fixed by the webhook)."""

    def __init__(
        self,
        url: SecretStr | str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        rate_limit_retries: int = 8,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        secret = url.get_secret_value() if isinstance(url, SecretStr) else url
        self._max_retries = max_retries
        self._sleep = sleep
        self.rate_limit = PacedRateLimitHandler(rate_limit_retries, sleep)
        self._client = AsyncWebhookClient(
            url=secret,
            timeout=timeout,  # type: ignore[arg-type]  # aiohttp takes float seconds
            logger=sdk_logger(),
            retry_handlers=[self.rate_limit],
        )

    def __repr__(self) -> str:
        return "SlackWebhookSink(url=**********)"

    can_verify = False  # a webhook cannot read what was posted

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        """Post ``message`` through the webhook (``channel`` only names the route in logs)."""
        body = {**message.payload(), "link_names": False, "metadata": metadata(alert_ids)}
        reason = "connection_refused"
        for attempt in range(self._max_retries + 1):
            if attempt:
                await self._sleep(backoff(attempt - 1))
            try:
                response = await self._client.send_dict(body)
            except aiohttp.ClientConnectorError:
                reason = "connection_refused"
                continue
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                reason = "timeout" if isinstance(exc, asyncio.TimeoutError) else "connection_lost"
                log.warning("webhook post for %s: %s; it may have posted", channel, reason)
                return DeliveryOutcome.uncertain(reason)
            status = response.status_code
            if status == 200:
                return DeliveryOutcome.posted(None)
            if status in RETRYABLE_STATUSES:
                log.warning("webhook post for %s: HTTP %d; it may have posted", channel, status)
                return DeliveryOutcome.uncertain(f"http_{status}")
            if status == 429:
                log.warning("webhook post for %s: still rate limited", channel)
                return DeliveryOutcome.rate_limited(retry_after_seconds(response.headers or {}))
            code = error_code(response.body) if response.body else f"http_{status}"
            outcome = outcome_for_error(code)
            log.warning("webhook refused a post for %s: %s (%s)", channel, code, outcome.kind.value)
            return outcome
        log.warning("webhook post for %s not posted: %s", channel, reason)
        return DeliveryOutcome.held(f"{reason} after {self._max_retries + 1} attempts")

    async def aclose(self) -> None:
        """Nothing held open."""
