"""Gathering reaction feedback: alert messages from Slack, what they were about from Kafka.

Three reads, each bounded:

1. ``conversations.history`` of each channel the watchlist routes to, from ``--since``, at most
   ``max_pages`` pages of 200 messages, with metadata (the alert ids) and reactions (history
   carries them: no ``reactions:read`` scope). Scopes: ``channels:history`` (``groups:history``
   for private channels), plus ``channels:read`` (``groups:read``) to find the id of a channel
   named ``#name``; the same the alert sink's replay check already needs.
2. The alert-outcomes topic: each posted alert's id with its article id and topic. The id in the
   metadata is a hash; the outcome record is what ties it to an article, so the Slack message
   does not need to carry more than it does.
3. The articles topic, for the text detection saw (title, summary, content), which no Slack message
   carries faithfully (cleaned, cut, escaped): ``watchlist eval`` must re-run detection on it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from alerts.feedback import FeedbackCounts, ReactionMap, Verdict, message_verdict
from alerts.sinks.common import error_code
from streams.near_misses import eval_article
from streams.records import AlertOutcomeV1, ArticleV1

log = logging.getLogger(__name__)
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
HISTORY_PAGE = 200
_POSTED = ("posted", "digested")
_SCOPE_LIST = re.compile(r"[a-z:.,_]{1,200}")


@dataclass
class ChannelReadError:
    """A channel whose history could not be read, and Slack's short error code."""

    channel: str
    code: str
    needed: str = ""


@dataclass
class HistoryRead:
    """Verdicts read from Slack, and the channels that could not be read."""

    verdicts: list[Verdict] = field(default_factory=list)
    errors: list[ChannelReadError] = field(default_factory=list)


def read_verdicts(
    client: Any,
    channels: Iterable[str],
    oldest: float,
    reactions: ReactionMap,
    counts: FeedbackCounts,
    max_pages: int = 20,
) -> HistoryRead:
    """The verdicts on Wirewatch alert messages posted in ``channels`` after ``oldest``.

    ``client`` is a slack-sdk ``WebClient``. A channel that cannot be read is reported with
    Slack's error code (and the missing scope, when Slack names it); the others are still read.
    """
    from slack_sdk.errors import SlackApiError

    read = HistoryRead()
    ids: dict[str, str] | None = None
    for channel in dict.fromkeys(channels):
        try:
            channel_id = channel
            if not _CHANNEL_ID.match(channel):
                ids = ids if ids is not None else _channel_ids(client, max_pages)
                channel_id = ids.get(channel.lstrip("#"), "")
                if not channel_id:
                    read.errors.append(ChannelReadError(channel, "channel_not_found"))
                    continue
            for message in _history(client, channel_id, oldest, max_pages):
                verdict = message_verdict(message, reactions, counts)
                if verdict is not None:
                    read.verdicts.append(verdict)
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            needed = str(data.get("needed") or "")
            # Only a scope list is echoed; nothing else of a response reaches the output.
            needed = needed if _SCOPE_LIST.fullmatch(needed) else ""
            read.errors.append(ChannelReadError(channel, error_code(data.get("error")), needed))
    return read


def _channel_ids(client: Any, max_pages: int) -> dict[str, str]:
    found: dict[str, str] = {}
    cursor = None
    for _ in range(max_pages):
        response = client.conversations_list(
            types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
        )
        for conversation in response.get("channels") or []:
            if conversation.get("name") and conversation.get("id"):
                found[str(conversation["name"])] = str(conversation["id"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return found


def _history(client: Any, channel_id: str, oldest: float, max_pages: int) -> Iterable[Any]:
    cursor = None
    for _ in range(max_pages):
        response = client.conversations_history(
            channel=channel_id,
            oldest=f"{oldest:.6f}",
            limit=HISTORY_PAGE,
            include_all_metadata=True,
            cursor=cursor,
        )
        yield from response.get("messages") or []
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return
    log.warning("history of %s has more than %d pages; read the newest only", channel_id, max_pages)


def posted_alerts(values: Iterable[bytes]) -> dict[str, tuple[str, str]]:
    """Alert id to (article id, topic) for every posted alert among alert-outcome records."""
    found: dict[str, tuple[str, str]] = {}
    for value in values:
        try:
            outcome = AlertOutcomeV1.model_validate_json(value)
        except (ValidationError, ValueError):
            continue
        if outcome.outcome in _POSTED and outcome.article_id:
            found[outcome.alert_id] = (outcome.article_id, outcome.topic)
    return found


def article_lines(values: Iterable[bytes], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The ``wanted`` articles in the shape ``watchlist eval --articles`` reads.

    Stops reading as soon as every wanted article was found.
    """
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    for value in values:
        try:
            article = ArticleV1.from_json(value)
        except (ValidationError, ValueError):
            continue
        if article.id in wanted:
            found[article.id] = eval_article(article)
            if len(found) == len(wanted):
                break
    return found


def watchlist_channels(topics: Iterable[Any], default_channel: str) -> list[str]:
    """Every channel the watchlist's topics route to (the default one for topics naming none)."""
    channels: list[str] = []
    for topic in topics:
        channels.extend(topic.alert.channels or (default_channel,))
    return list(dict.fromkeys(channels))


def missing_scopes_hint(errors: Iterable[ChannelReadError]) -> Mapping[str, str]:
    """A one-line explanation per channel that could not be read."""
    hints = {}
    for error in errors:
        hint = error.code
        if error.needed:
            hint += f" (the token needs {error.needed})"
        elif error.code == "not_in_channel":
            hint += " (invite the bot to the channel)"
        hints[error.channel] = hint
    return hints
