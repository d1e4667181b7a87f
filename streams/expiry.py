"""Expiry of the worker's tables: old keys are deleted, so state stays flat over years.

A Faust timer walks the keys this worker holds for its own partitions of ``stories`` and
``posted_alerts`` every ``WIREWATCH_STATE_EXPIRY_SECONDS`` and deletes the expired ones. A delete
writes a tombstone to the table's compacted changelog, so Kafka's log cleaner reclaims the key
there too, and a worker recovering the partition later never sees it again.

How old a key is comes from its value:

- ``stories``: ``last_seen``; a story is kept for the story window plus
  ``WIREWATCH_STATE_EXPIRY_MARGIN_HOURS``.
- ``posted_alerts``: the first time field found (``recorded_at``, ``decided_at``, ``posted_at``,
  ``kept_since``); kept for ``WIREWATCH_POSTED_ALERT_RETENTION_HOURS`` (deploy/README.md says
  why that length). Today's values carry no time, so the first walk that meets one stamps it
  with ``kept_since`` (a changelogged write); the key then lives the full retention from that
  walk, never less than from its own write.

A value with no readable time and a key whose partition the store does not know (the memory
store's live writes) are left alone: expiry never guesses in the direction of deleting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from streams.faust_internals import local_items, writes_to_partition

if TYPE_CHECKING:
    import faust

    from streams.runtime import Runtime

log = logging.getLogger(__name__)

_POSTED_TIME_FIELDS = ("recorded_at", "decided_at", "posted_at", "kept_since")
# Keys handled between two yields to the event loop: agents keep running during a long walk.
_KEYS_PER_SLICE = 2000


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a table value field (naive times are UTC), or ``None``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def story_time(value: Any) -> datetime | None:
    """When a ``stories`` value was last seen."""
    return parse_time(value.get("last_seen")) if isinstance(value, Mapping) else None


def posted_time(value: Any) -> datetime | None:
    """The time a ``posted_alerts`` value carries, if any."""
    if not isinstance(value, Mapping):
        return None
    for name in _POSTED_TIME_FIELDS:
        moment = parse_time(value.get(name))
        if moment is not None:
            return moment
    return None


@dataclass(frozen=True)
class TablePolicy:
    """How long a table's keys live and how their age is read."""

    name: str
    keep: timedelta
    time_of: Callable[[Any], datetime | None]
    stamp_missing: bool  # give a value without a time a ``kept_since`` (else leave it alone)


@dataclass
class ExpiryReport:
    """What one walk of one table did."""

    deleted: int = 0
    stamped: int = 0
    kept: int = 0
    unplaced: int = 0


def policies(settings: Any) -> list[TablePolicy]:
    """The expiry rule of each table, from the settings."""
    story_hours = settings.story_window_hours + settings.state_expiry_margin_hours
    return [
        TablePolicy("stories", timedelta(hours=story_hours), story_time, stamp_missing=False),
        TablePolicy(
            "posted_alerts",
            timedelta(hours=settings.posted_alert_retention_hours),
            posted_time,
            stamp_missing=True,
        ),
    ]


async def expire_table(table: Any, policy: TablePolicy, now: datetime) -> ExpiryReport:
    """Delete ``table``'s expired local keys (tombstones to the changelog); see the module doc."""
    report = ExpiryReport()
    cutoff = now - policy.keep
    candidates: list[tuple[int, Any]] = []
    for seen, (partition, key, value) in enumerate(local_items(table), start=1):
        if seen % _KEYS_PER_SLICE == 0:
            await asyncio.sleep(0)
        if partition is None:
            report.unplaced += 1
            continue
        moment = policy.time_of(value)
        stamp = moment is None and policy.stamp_missing
        if stamp or (moment is not None and moment < cutoff):
            candidates.append((partition, key))
        else:
            report.kept += 1
    for partition, key in candidates:
        # No await from here to the write: the agent cannot change the key in between.
        with writes_to_partition(table, partition):
            value = table.get(key)
            if value is None:
                continue  # deleted meanwhile
            moment = policy.time_of(value)
            if moment is None:
                if policy.stamp_missing and isinstance(value, Mapping):
                    table[key] = {**value, "kept_since": now.isoformat()}
                    report.stamped += 1
            elif moment < cutoff:
                del table[key]
                report.deleted += 1
            else:
                report.kept += 1  # refreshed since the walk
    return report


def expire_state(app: faust.App, runtime: Runtime) -> Any:
    """Register the expiry timer on ``app`` (after the tables are defined); returns it."""
    settings = runtime.settings
    rules = policies(settings)

    @app.timer(interval=settings.state_expiry_seconds)
    async def expire_tables() -> None:
        if app.rebalancing:
            return  # partitions are moving; the next tick walks the settled ones
        now = datetime.now(UTC)
        for policy in rules:
            table = app.tables.get(policy.name)
            if table is None:
                continue
            report = await expire_table(table, policy, now)
            if report.deleted or report.stamped:
                log.info(
                    "state expiry: %s deleted %d keys, stamped %d, kept %d",
                    policy.name,
                    report.deleted,
                    report.stamped,
                    report.kept,
                )
        # Tombstones durable before the next walk counts on them.
        await app.producer.flush()

    return expire_tables
