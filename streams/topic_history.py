"""Reading what a topic holds from a point in time or from offsets, for operator commands.

``wirewatch nearmiss`` and ``wirewatch feedback sync`` read a bounded slice of a topic: from the
first record at or after a time (``--since 7d``) or from given offsets, up to the end offsets seen
when the read starts. They never join a consumer group and never commit: reading is harmless to
the running workers and can be repeated.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from wirewatch.errors import ConfigError, WirewatchError

_AGO = re.compile(r"^(\d{1,5})([dhm])$")
_AGO_UNIT = {"d": "days", "h": "hours", "m": "minutes"}
_OFFSET = re.compile(r"^(\d{1,5}):(\d{1,19})$")


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record as read: where it sits, when the broker took it, key and value bytes."""

    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``36h``, ``90m`` (before ``now``) or an ISO 8601 date/time (UTC when zoneless)."""
    now = now or datetime.now(UTC)
    value = text.strip()
    ago = _AGO.match(value)
    if ago:
        return now - timedelta(**{_AGO_UNIT[ago.group(2)]: int(ago.group(1))})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        msg = f"--since {text!r}: use 7d, 36h, 90m or an ISO date/time such as 2026-11-30T08:00Z"
        raise ConfigError(msg) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_offsets(text: str) -> dict[int, int]:
    """``0:120,1:98`` as {partition: first offset}."""
    offsets: dict[int, int] = {}
    for part in (p.strip() for p in text.split(",")):
        found = _OFFSET.match(part)
        if not found:
            msg = f"--offsets {text!r}: use PARTITION:OFFSET[,PARTITION:OFFSET...], e.g. 0:120,1:98"
            raise ConfigError(msg)
        offsets[int(found.group(1))] = int(found.group(2))
    return offsets


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    since: datetime | None = None,
    offsets: Mapping[int, int] | None = None,
    client_options: Mapping[str, Any] | None = None,
    timeout_s: float = 120.0,
) -> Iterator[TopicRecord]:
    """The records of ``topic`` from ``since`` (or ``offsets``; else the beginning) to its end.

    Partitions not named in ``offsets`` are read from the beginning. The end is the end offsets
    at the start of the read, so a busy topic does not keep the read going. Raises
    :class:`WirewatchError` when the topic does not exist or the read does not finish in time.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="wirewatch-reader",
        enable_auto_commit=False,
        group_id=None,
        **dict(client_options or {}),
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            msg = f"topic {topic} does not exist at {bootstrap} (run `wirewatch topics create`)"
            raise WirewatchError(msg)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        end = consumer.end_offsets(assigned)
        start = _start_offsets(consumer, assigned, end, since, offsets or {})
        for tp in assigned:
            consumer.seek(tp, start[tp])
        remaining = {tp for tp in assigned if start[tp] < end[tp]}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                msg = f"reading {topic} did not finish in {timeout_s:.0f}s"
                raise WirewatchError(msg)
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for message in messages:
                    if message.offset >= end[tp]:
                        break
                    yield TopicRecord(
                        message.partition,
                        message.offset,
                        datetime.fromtimestamp(message.timestamp / 1000, UTC),
                        message.key,
                        message.value,
                    )
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
            if remaining:
                consumer.resume(*remaining)
                consumer.pause(*(set(assigned) - remaining))
    finally:
        consumer.close()


def _start_offsets(
    consumer: Any,
    assigned: list[Any],
    end: dict[Any, int],
    since: datetime | None,
    offsets: Mapping[int, int],
) -> dict[Any, int]:
    beginning = consumer.beginning_offsets(assigned)
    if since is not None:
        found = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in assigned})
        # None: no record at or after the time in that partition; nothing to read there.
        return {tp: (found[tp].offset if found.get(tp) else end[tp]) for tp in assigned}
    return {
        tp: min(max(offsets.get(tp.partition, beginning[tp]), beginning[tp]), end[tp])
        for tp in assigned
    }
