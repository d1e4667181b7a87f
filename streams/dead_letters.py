"""Dead-letter records: what a stage could not process, with the error and where it came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.records import DeadLetterV1

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
