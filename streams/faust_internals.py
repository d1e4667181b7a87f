"""Every use of faust-streaming internals, in one module, for the pinned version only.

faust-streaming has no public API for what follows, so Wirewatch reaches into 0.15.3 here and
nowhere else (the recovery fix in ``streams/recovery.py`` is the one other place: it overrides
``Recovery.on_recovery_completed`` through the ``TableManager`` setting):

- **Which partition a table write goes to.** Faust takes it from the event in the
  ``faust.streams._current_event`` context variable: inside a ``take_events`` batch that is the
  batch's last event, and in a timer there is none. :func:`writes_for` and
  :func:`writes_to_partition` set it explicitly.
- **A table's keys, partition by partition.** The RocksDB store keeps one database per partition
  (``Store._dbs``, read with ``_visible_items`` and ``_decode_key``/``_decode_value``); the memory
  store remembers the partition only of the keys it recovered (``_key_partition``).

``tests/streams/test_faust_internals.py`` pins the version and every attribute and signature used
here and in ``streams/recovery.py``: an upgrade fails that test first, loudly, instead of
silently routing writes to the wrong partition.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from faust.streams import _current_event

PINNED_FAUST_VERSION = "0.15.3"


@contextlib.contextmanager
def writes_for(event: Any) -> Iterator[None]:
    """Make table writes go to ``event``'s partition.

    Faust routes a table write to the changelog partition of the *current* event; inside a
    ``take_events`` batch that is whichever event came last, which may belong to another
    partition. Setting it per event keeps each record with the partition that owns it.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


@dataclass(frozen=True)
class _PartitionOnly:
    """The part of a message faust reads to place a table write: its topic and partition."""

    topic: str
    partition: int


class _StandInEvent:
    """An event that only says which partition table writes belong to (weakly referenced)."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = _PartitionOnly(topic, partition)


@contextlib.contextmanager
def writes_to_partition(table: Any, partition: int) -> Iterator[None]:
    """Let code outside any stream (a timer) write ``table`` keys of ``partition``.

    Deleting a key then removes it locally and sends its tombstone to that changelog partition.
    """
    event = _StandInEvent(table.changelog_topic_name, partition)
    with writes_for(event):
        yield


def active_partitions(table: Any) -> set[int]:
    """The changelog partitions of ``table`` this worker currently owns (not standbys)."""
    topic = table.changelog_topic_name
    return {tp.partition for tp in table.app.assignor.assigned_actives() if tp.topic == topic}


def local_items(table: Any) -> Iterator[tuple[int | None, Any, Any]]:
    """``(partition, key, value)`` of every key this worker holds for its active partitions.

    The partition is ``None`` for a memory-store key written since the last recovery: that store
    does not record where live writes went.
    """
    store = table.data
    active = active_partitions(table)
    databases = getattr(store, "_dbs", None)
    if databases is not None:  # RocksDB: one database per partition
        for partition, database in list(databases.items()):
            if partition in active:
                for raw_key, raw_value in store._visible_items(database):
                    yield partition, store._decode_key(raw_key), store._decode_value(raw_value)
        return
    recovered = store._key_partition
    for key, value in list(store.data.items()):
        yield recovered.get(key), key, value
