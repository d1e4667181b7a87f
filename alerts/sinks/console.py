"""The console sink: alerts printed readably, so Wirewatch is useful without Slack credentials."""

from __future__ import annotations

import html
import itertools
import json
import re
from typing import Any, TextIO

from alerts.formatting import SlackMessage
from alerts.outcomes import DeliveryOutcome

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_SPECIAL = re.compile(r"<!(here|channel|subteam\^[A-Z0-9]+)>")


def mrkdwn_to_console(text: str) -> str:
    """Rendered mrkdwn as a terminal shows it: links as ``label (url)``, escapes undone."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({html.unescape(m.group(1))})", text)
    text = _DATE.sub(r"\1", text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1).split("^")[0], text)
    # Feed text never holds a real "*" (formatting neutralises it), so these are our bold marks.
    return html.unescape(text.replace("*", ""))


class ConsoleSink:
    """Prints each message to ``stream``: readable text, or the exact payload when verbose."""

    def __init__(self, stream: TextIO, *, verbose: bool = False) -> None:
        self._stream = stream
        self._verbose = verbose
        self._counter = itertools.count(1)

    def __repr__(self) -> str:
        return f"ConsoleSink(verbose={self._verbose})"

    can_verify = False  # what was printed cannot be read back

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        """Print the message; always POSTED, with a local ``ts``."""
        number = next(self._counter)
        lines = [f"── {channel} " + "─" * max(3, 60 - len(channel))]
        lines.extend(_block_lines(block) for block in message.blocks)
        lines.append(f"   (alerts: {', '.join(alert_ids)})")
        if self._verbose:
            payload: dict[str, Any] = {"channel": channel, **message.payload()}
            payload["metadata"] = {
                "event_type": "wirewatch_alert",
                "event_payload": {"alert_ids": alert_ids},
            }
            lines.append(json.dumps(payload, indent=2, ensure_ascii=False))
        self._stream.write("\n".join(line for line in lines if line) + "\n")
        self._stream.flush()
        return DeliveryOutcome.posted(ts=f"console.{number:06d}", channel_id=channel)

    async def aclose(self) -> None:
        """Nothing to release."""


def _block_lines(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return "  " + str(block["text"]["text"]).upper()
    if kind == "section":
        return "\n".join(
            "  " + line for line in mrkdwn_to_console(block["text"]["text"]).split("\n")
        )
    if kind == "context":
        texts = [mrkdwn_to_console(e.get("text", "")) for e in block.get("elements", [])]
        return "  " + " ".join(texts)
    return ""
