"""Reactions on posted alerts turned into labels (pure functions).

A reader in the channel says "wrong topic" (👎) or "right" (✅) with a reaction on the bot's alert
message. This module reads those verdicts from Slack message objects (as ``conversations.history``
returns them, reactions included) and combines them, through the alert ids in the message
metadata, into per-topic judgments ``{"id": article, "judgments": {topic: bool}}`` that
``watchlist eval`` and ``watchlist tune`` read.

Only clear verdicts count: a message with both kinds of reaction, a digest (one reaction for many
headlines) and an (article, topic) judged both ways in different channels are left out and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts.sinks.common import METADATA_EVENT_TYPE

DEFAULT_WRONG = ("thumbsdown", "-1")
DEFAULT_RIGHT = ("white_check_mark", "heavy_check_mark", "+1", "thumbsup")


@dataclass(frozen=True)
class ReactionMap:
    """Which reaction names mean "wrong topic" and which mean "right"."""

    wrong: frozenset[str] = frozenset(DEFAULT_WRONG)
    right: frozenset[str] = frozenset(DEFAULT_RIGHT)

    def __post_init__(self) -> None:
        both = self.wrong & self.right
        if both:
            msg = f"reactions cannot mean both wrong and right: {', '.join(sorted(both))}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One alert message's verdict: its alert ids and whether the topic was right."""

    alert_ids: tuple[str, ...]
    right: bool


@dataclass
class FeedbackCounts:
    """What was read and why some of it gave no label."""

    alert_messages: int = 0
    with_verdict: int = 0
    mixed_reactions: int = 0
    digests: int = 0
    unknown_alerts: int = 0
    conflicting: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return dict(vars(self))


@dataclass
class Feedback:
    """Per-article judgments and the counts behind them."""

    judgments: dict[str, dict[str, bool]] = field(default_factory=dict)
    counts: FeedbackCounts = field(default_factory=FeedbackCounts)

    def label_lines(self) -> list[dict[str, Any]]:
        """Labels lines ``{"id", "judgments"}``, sorted by article id."""
        return [
            {"id": article, "judgments": dict(sorted(topics.items()))}
            for article, topics in sorted(self.judgments.items())
        ]


def reaction_name(name: str) -> str:
    """The base name of a reaction: ``+1::skin-tone-3`` is ``+1``."""
    return name.split("::", 1)[0]


def alert_ids_of(message: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The alert ids in a Wirewatch alert message's metadata; None for any other message."""
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != METADATA_EVENT_TYPE:
        return None
    payload = meta.get("event_payload")
    ids = payload.get("alert_ids") if isinstance(payload, Mapping) else None
    if not isinstance(ids, list):
        return None
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i))


def message_verdict(
    message: Mapping[str, Any], reactions: ReactionMap, counts: FeedbackCounts
) -> Verdict | None:
    """The verdict of one history message, or None (not an alert, no or unclear verdict)."""
    ids = alert_ids_of(message)
    if not ids:
        return None
    counts.alert_messages += 1
    names = {
        reaction_name(str(r.get("name", "")))
        for r in message.get("reactions") or ()
        if isinstance(r, Mapping) and int(r.get("count") or 0) > 0
    }
    wrong, right = bool(names & reactions.wrong), bool(names & reactions.right)
    if not (wrong or right):
        return None
    if wrong and right:
        counts.mixed_reactions += 1
        return None
    if len(ids) > 1:
        counts.digests += 1  # one reaction cannot say which of the listed headlines it means
        return None
    counts.with_verdict += 1
    return Verdict(ids, right)


def combine(
    verdicts: Iterable[Verdict],
    alerts: Mapping[str, tuple[str, str]],
    counts: FeedbackCounts | None = None,
) -> Feedback:
    """Judgments per (article, topic); ``alerts`` maps an alert id to (article id, topic).

    ``counts`` (those of :func:`message_verdict`, when given) are carried on and completed.

    The same article and topic may have been posted to several channels: agreeing verdicts make
    one judgment, disagreeing ones make none.
    """
    feedback = Feedback(counts=counts or FeedbackCounts())
    seen: dict[tuple[str, str], set[bool]] = {}
    for verdict in verdicts:
        for alert_id in verdict.alert_ids:
            known = alerts.get(alert_id)
            if known is None:
                feedback.counts.unknown_alerts += 1
                continue
            seen.setdefault(known, set()).add(verdict.right)
    for (article, topic), values in seen.items():
        if len(values) > 1:
            feedback.counts.conflicting += 1
            continue
        feedback.judgments.setdefault(article, {})[topic] = values.pop()
    return feedback
