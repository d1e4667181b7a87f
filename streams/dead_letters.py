"""Dead-letter records: what a stage could not process, with the error and where it came from.

Also what ``wirewatch deadletters`` needs to read them back: selecting by id, time and reason,
counting by reason, and the record a replay republishes to the stage's input topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from streams.records import DeadLetterV1, MatchV1
from streams.topics import TopicNames

# Kafka header marking a record an operator replayed from the dead letters
# (``wirewatch deadletters replay``): such a record may resend what a person chose to hold back.
REPLAY_HEADER = "wirewatch-replay"

# The original is kept verbatim up to this size; beyond it, source topic, partition and offset
# still locate it in the input topic for the length of its retention.
MAX_ORIGINAL_BYTES = 512 * 1024


def dead_letter(
    stage: str,
    error_kind: str,
    error: str,
    original: bytes | None,
    now: datetime,
    message: Any = None,
) -> DeadLetterV1:
    """Build the dead-letter record for ``original`` (a Faust message supplies its location)."""
    raw = original or b""
    key = getattr(message, "key", None)
    return DeadLetterV1(
        stage=stage,
        error_kind=error_kind,
        error=error[:4000],
        source_topic=str(getattr(message, "topic", "") or ""),
        partition=getattr(message, "partition", None),
        offset=getattr(message, "offset", None),
        key=key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
        original=raw[:MAX_ORIGINAL_BYTES].decode("utf-8", "replace"),
        original_bytes=len(raw),
        failed_at=now,
    )


@dataclass(frozen=True)
class StoredDeadLetter:
    """A dead letter as read back from its topic; ``id`` is ``stage:partition:offset``."""

    id: str
    stage: str  # "articles" or "alerts": which dead-letter topic holds it
    record: DeadLetterV1

    @property
    def reason(self) -> str:
        """What it is filed under: the error kind (a Slack error code for alerts)."""
        return self.record.error_kind


def select(
    letters: Iterable[StoredDeadLetter],
    *,
    ids: Sequence[str] = (),
    since: datetime | None = None,
    reasons: Sequence[str] = (),
) -> list[StoredDeadLetter]:
    """The dead letters matching every filter given (none given: all of them)."""
    chosen = []
    for letter in letters:
        if ids and letter.id not in ids:
            continue
        if since is not None and letter.record.failed_at < since:
            continue
        if reasons and letter.reason not in reasons:
            continue
        chosen.append(letter)
    return chosen


def counts_by_reason(letters: Iterable[StoredDeadLetter]) -> Counter[tuple[str, str]]:
    """How many dead letters per (stage, reason)."""
    return Counter((letter.stage, letter.reason) for letter in letters)


def replay_record(letter: StoredDeadLetter, names: TopicNames) -> tuple[str, bytes | None, bytes]:
    """Where a replay sends ``letter``'s original: (topic, key, value) on the stage's input.

    An article goes back to the articles topic (detection, then alerts); an alert's original is
    its match, which goes back to the matches topic keyed by its watched topic, so the replay
    takes the normal alert path with its idempotence: a posted alert is never posted again.
    Raises ``ValueError`` when the original was cut (too large to keep).
    """
    record = letter.record
    if record.original_bytes > len(record.original.encode()):
        msg = f"{letter.id}: the original was cut at {MAX_ORIGINAL_BYTES} bytes"
        raise ValueError(msg)
    value = record.original.encode()
    if letter.stage == "articles":
        return names.articles, record.key.encode() if record.key else None, value
    key: bytes | None
    try:
        key = MatchV1.from_json(value).topic.encode()
    except (
        ValidationError,
        ValueError,
    ):  # still malformed: the alert stage dead-letters it again, with the error
        key = record.key.encode() if record.key else None
    return names.matches, key, value
