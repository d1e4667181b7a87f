"""Small helpers the Slack sinks share: a quiet logger for slack-sdk, back-off, safe reasons."""

from __future__ import annotations

import logging
import random
import re

METADATA_EVENT_TYPE = "wirewatch_alert"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def sdk_logger() -> logging.Logger:
    """The logger handed to slack-sdk clients.

    slack-sdk logs request URLs and bodies at DEBUG (an incoming-webhook URL *is* the secret), so
    its clients get a logger that never goes below INFO, whatever the root level is.
    """
    logger = logging.getLogger("alerts.sinks.slack_sdk")
    logger.setLevel(logging.INFO)
    return logger


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential back-off with up to 25% jitter for the ``attempt``-th retry (0-based)."""
    return min(cap, base * 2**attempt) * (1 + random.random() * 0.25)


def error_code(text: object) -> str:
    """A Slack error code taken from a response, or ``unexpected_response``.

    Only a short snake_case code survives: whatever else a response body holds is never copied
    into outcomes or logs.
    """
    code = str(text or "").strip()
    return code if _CODE.match(code) else "unexpected_response"


def metadata(alert_ids: list[str]) -> dict[str, object]:
    """Message metadata carrying the alert ids, for reconciliation after a crash."""
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"alert_ids": list(alert_ids)}}
