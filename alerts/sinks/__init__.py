"""Where rendered alerts go: Slack through a bot token or a webhook, or the console.

Every sink implements :class:`Sink`: ``send`` delivers one message and answers with a
:class:`~alerts.outcomes.DeliveryOutcome`; it never raises for a delivery problem, and no secret
ever appears in an outcome, a log line, a ``repr`` or an exception message. slack-sdk is imported
only by the Slack sinks, and only when one is built.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from alerts.formatting import SlackMessage
from alerts.outcomes import DeliveryOutcome

if TYPE_CHECKING:
    from wirewatch.settings import Settings

__all__ = ["Sink", "make_sink"]


@runtime_checkable
class Sink(Protocol):
    """Delivers one message to one channel."""

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        """Deliver ``message`` to ``channel``; ``alert_ids`` are the alerts it carries."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def make_sink(
    settings: Settings,
    *,
    stream: TextIO | None = None,
    verbose: bool = False,
    sleep: Any = asyncio.sleep,
) -> Sink:
    """The sink the settings call for: bot token, else webhook URL, else the console."""
    if settings.slack_token is not None and settings.slack_token.get_secret_value():
        from alerts.sinks.slack_bot import SlackBotSink

        return SlackBotSink(
            settings.slack_token,
            base_url=settings.slack_api_url,
            timeout=settings.slack_timeout_seconds,
            max_retries=settings.slack_max_retries,
            sleep=sleep,
        )
    if settings.slack_webhook_url is not None and settings.slack_webhook_url.get_secret_value():
        from alerts.sinks.webhook import SlackWebhookSink

        return SlackWebhookSink(
            settings.slack_webhook_url,
            timeout=settings.slack_timeout_seconds,
            max_retries=settings.slack_max_retries,
            sleep=sleep,
        )
    from alerts.sinks.console import ConsoleSink

    return ConsoleSink(stream if stream is not None else sys.stdout, verbose=verbose)
