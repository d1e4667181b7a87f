"""The faust-streaming internals Wirewatch relies on are still there, with the same shape.

streams/faust_internals.py and streams/recovery.py reach into faust-streaming 0.15.3 where no
public API does the job. Any other version, or any attribute renamed, removed or re-signed, fails
here with the name of what changed, before a worker routes a table write to the wrong partition
or a recovery loses queued events.
"""

from __future__ import annotations

import contextvars
import inspect
import re
import tomllib
from collections.abc import Callable
from typing import Any

import faust
import faust.streams
import pytest
from faust.stores import memory, rocksdb
from faust.tables import TableManager
from faust.tables.base import Collection
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.types.settings import Settings as FaustSettings
from mode.utils.queues import FlowControlEvent

from streams.faust_internals import PINNED_FAUST_VERSION, writes_for, writes_to_partition
from tests.streams.harness import REPO_ROOT


def test_the_installed_faust_is_the_pinned_one() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("faust-streaming")]
    assert pins == [f"faust-streaming[rocksdict]=={PINNED_FAUST_VERSION}"], (
        "faust-streaming's pin moved: re-check streams/faust_internals.py and "
        "streams/recovery.py against the new version, then update PINNED_FAUST_VERSION"
    )
    assert faust.__version__ == PINNED_FAUST_VERSION, (
        f"faust-streaming {faust.__version__} is installed, the internals were checked against "
        f"{PINNED_FAUST_VERSION} only"
    )


def signature_of(function: Callable[..., Any]) -> str:
    return str(inspect.signature(function))


def source_of(function: Callable[..., Any]) -> str:
    return inspect.getsource(function)


# (what, actual signature, expected; ~ stands for any text): every function Wirewatch calls or
# overrides.
SIGNATURES = [
    (
        "faust.streams.current_event",
        lambda: faust.streams.current_event,
        "() -> Optional[faust.types.events.EventT]",
    ),
    (
        "Recovery.on_recovery_completed",
        lambda: Recovery.on_recovery_completed,
        "(self, generation_id: int = 0) -> None",
    ),
    (
        "Recovery.__init__",
        lambda: Recovery.__init__,
        "(self, app: ~, tables: ~, **kwargs: Any) -> None",
    ),
    ("FlowControlEvent.clear", lambda: FlowControlEvent.clear, "(self) -> None"),
    ("FlowControlEvent.resume", lambda: FlowControlEvent.resume, "(self) -> None"),
    (
        "Collection.send_changelog",
        lambda: Collection.send_changelog,
        "(self, partition: ~, key: Any, value: Any, ~",
    ),
    (
        "Collection.partition_for_key",
        lambda: Collection.partition_for_key,
        "(self, key: Any) -> Optional[int]",
    ),
    ("rocksdb.Store._visible_items", lambda: rocksdb.Store._visible_items, "(self, db: ~) -> ~"),
    ("rocksdb.Store._decode_key", lambda: rocksdb.Store._decode_key, "(self, key: ~) -> ~"),
    ("rocksdb.Store._decode_value", lambda: rocksdb.Store._decode_value, "(self, value: ~) -> ~"),
]


@pytest.mark.parametrize(("what", "get", "expected"), SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_used_functions_keep_their_signatures(
    what: str, get: Callable[[], Callable[..., Any]], expected: str
) -> None:
    actual = signature_of(get())
    pattern = ".*".join(re.escape(part) for part in expected.split("~"))
    assert re.fullmatch(pattern, actual), f"{what} is now {actual}, was {expected}"


def test_table_writes_take_their_partition_from_the_current_event_variable() -> None:
    assert isinstance(faust.streams._current_event, contextvars.ContextVar)
    # Where faust reads it: a table key's partition, and RocksDB's choice of database.
    assert "current_event()" in source_of(Collection.partition_for_key)
    assert "current_event()" in source_of(rocksdb.Store._set)
    assert "current_event()" in source_of(rocksdb.Store._get)

    class Event:
        message = None

    event = Event()
    with writes_for(event):
        assert faust.streams.current_event() is event
    assert faust.streams.current_event() is None


def test_a_timer_can_name_the_partition_of_its_writes() -> None:
    class Table:
        changelog_topic_name = "app-stories-changelog"

    with writes_to_partition(Table(), 3):
        event = faust.streams.current_event()
        assert event is not None
        assert (event.message.topic, event.message.partition) == ("app-stories-changelog", 3)


def test_stores_keep_partitions_where_expiry_reads_them() -> None:
    assert "self._dbs" in source_of(rocksdb.Store.__init__)  # partition -> database
    assert "self._key_partition" in source_of(memory.Store.__post_init__)
    assert isinstance(Collection.__dict__.get("changelog_topic_name"), property)


def test_the_recovery_step_we_patch_still_resumes_and_clears_as_described() -> None:
    # streams/recovery.py replaces the queue clear that flow_control.resume() performs.
    assert "self.app.flow_control.resume()" in source_of(Recovery.on_recovery_completed)
    assert "self.clear()" in source_of(FlowControlEvent.resume)
    # KeepQueuedTableManager fills TableManager's lazily created recovery.
    assert isinstance(TableManager.__dict__.get("recovery"), property)
    assert "self._recovery" in source_of(TableManager.recovery.fget)
    assert TableManager._recovery is None
    # The rebalance checks in streams/recovery.py read these.
    assert faust.App.consumer_generation_id == 0  # AppT's default, set by the consumer
    assert "flow_active" in dir(Consumer)
    # The setting streams/app.py names KeepQueuedTableManager in.
    assert hasattr(FaustSettings, "TableManager")
