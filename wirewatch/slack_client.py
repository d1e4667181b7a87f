"""A synchronous Slack Web API client for operator commands (digest, feedback sync)."""

from __future__ import annotations

from typing import Any

from wirewatch.errors import ConfigError
from wirewatch.settings import Settings


def operator_client(settings: Settings, purpose: str) -> Any:
    """A slack-sdk ``WebClient`` with the bot token, the API URL and bounded rate-limit retries.

    ``purpose`` names the command in the error raised when no bot token is configured.
    """
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    from alerts.sinks.common import sdk_logger

    if settings.slack_token is None:
        msg = f"{purpose} needs a bot token: set WIREWATCH_SLACK_TOKEN (or its _FILE)"
        raise ConfigError(msg)
    return WebClient(
        token=settings.slack_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=max(1, round(settings.slack_timeout_seconds)),
        logger=sdk_logger(),
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=settings.slack_max_retries)],
    )
