"""slack-sdk retry handlers, bounded, with an injectable sleep (retries as strategy objects).

slack-sdk's async handlers call ``asyncio.sleep`` themselves; these subclasses take the sleep
function as a parameter, so tests can drive rate limits and server errors on a fake clock, and they
record what they waited for. The rate-limit handler honours ``Retry-After`` (seconds, fractional
allowed; 1 s plus jitter when the header is missing) and refuses to wait longer than ``max_wait``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

Sleep = Callable[[float], Awaitable[Any]]
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


def retry_after_seconds(headers: dict[str, Any] | Any) -> float | None:
    """The ``Retry-After`` header in seconds, or None when absent or not a number."""
    for key in headers:
        if key.lower() == "retry-after":
            value = headers[key]
            value = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


class PacedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Retry on HTTP 429 after ``Retry-After`` (never sooner), at most ``max_retry_count`` times."""

    def __init__(self, max_retry_count: int, sleep: Sleep, max_wait: float = 300.0) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self.max_wait = max_wait
        self.waits: list[float] = []

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_seconds(response.headers)
        return wait is None or wait <= self.max_wait

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = retry_after_seconds(response.headers) if response is not None else None
        # Jitter on top of the server's figure, never below it: clients woken together
        # should not all come back in the same instant.
        duration = (1.0 if wait is None else wait) + random.random() * 0.5
        self.waits.append(duration)
        await self._sleep(duration)
        state.increment_current_attempt()


class _SleepingBackoff(AsyncRetryHandler):
    """Exponential back-off with jitter through the injected sleep."""

    _sleep: Sleep
    waits: list[float]

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        duration = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        self.waits.append(duration)
        await self._sleep(duration)
        state.increment_current_attempt()


class BackoffServerErrorHandler(_SleepingBackoff, AsyncServerErrorRetryHandler):
    """Retry on 500, 502, 503 and 504 with exponential back-off, at most ``max_retry_count``."""

    def __init__(self, max_retry_count: int, sleep: Sleep, backoff: float = 0.5) -> None:
        AsyncServerErrorRetryHandler.__init__(
            self, max_retry_count, BackoffRetryIntervalCalculator(backoff_factor=backoff)
        )
        self._sleep = sleep
        self.waits = []

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in RETRYABLE_STATUSES


class BackoffConnectionErrorHandler(_SleepingBackoff, AsyncConnectionErrorRetryHandler):
    """Retry connection failures with back-off (for idempotent reads: history, auth.test)."""

    def __init__(self, max_retry_count: int, sleep: Sleep, backoff: float = 0.5) -> None:
        AsyncConnectionErrorRetryHandler.__init__(
            self,
            max_retry_count,
            BackoffRetryIntervalCalculator(backoff_factor=backoff),
            error_types=[
                ServerConnectionError,
                ServerDisconnectedError,
                ClientOSError,
                asyncio.TimeoutError,
            ],
        )
        self._sleep = sleep
        self.waits = []
