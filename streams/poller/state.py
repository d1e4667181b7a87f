"""The poller's memory: per-feed validators, schedule and health, and the ids already published.

It lives in a compacted Kafka topic (``wirewatch.poller-state.v1``, one partition), read back in
full at start-up, so it survives restarts with no extra database. Keys:

- ``feed|<url>`` -> :class:`FeedState` JSON (latest wins under compaction);
- ``seen|<article id>`` -> ``{"t": <epoch seconds last seen>}``; a tombstone (null) forgets it.

A feed's record is written when something a restart needs changed (validators, the body hash,
error and health fields, counters) or its schedule moved by more than a tolerance; a quiet cycle
of 304s writes next to nothing. Timestamps shown by ``feeds status`` may lag by that tolerance.

Size is bounded: an id not seen in any feed for ``retention`` is forgotten (tombstoned), and at
most ``max_ids`` are kept (least recently seen go first). An id still carried by a feed is
refreshed in memory on every poll and re-written only when its stored time is a quarter of the
retention old, which keeps the write volume low.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from streams.poller.errors import PublishError
from streams.poller.publisher import KafkaSender, OutRecord

log = logging.getLogger(__name__)

FEED_PREFIX = "feed|"
SEEN_PREFIX = "seen|"


class FeedState(BaseModel):
    """What the poller knows about one feed (also its health report)."""

    model_config = ConfigDict(extra="ignore")

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    error_streak: int = 0
    last_error_kind: str | None = None
    last_error: str | None = None
    last_warning: str | None = None
    needs_attention: bool = False
    last_status: int | None = None
    articles_published: int = 0
    last_entries: int = 0
    ttl_minutes: float | None = None
    final_url: str | None = None
    body_hash: str | None = None


# What a restarted poller needs exactly; the other fields (times, last status and entry count)
# may be stale in the topic without harm.
_DURABLE_FIELDS = (
    "etag",
    "last_modified",
    "body_hash",
    "error_streak",
    "last_error_kind",
    "last_error",
    "last_warning",
    "needs_attention",
    "articles_published",
    "ttl_minutes",
    "final_url",
)


def worth_writing(stored: FeedState | None, new: FeedState, schedule_tolerance_s: float) -> bool:
    """Whether ``new`` must reach the state topic, given the record ``stored`` there."""
    if stored is None:
        return True
    if any(getattr(stored, name) != getattr(new, name) for name in _DURABLE_FIELDS):
        return True
    if stored.next_poll_at is None or new.next_poll_at is None:
        return stored.next_poll_at != new.next_poll_at
    drift = abs((new.next_poll_at - stored.next_poll_at).total_seconds())
    return drift > schedule_tolerance_s


class StateBackend(Protocol):
    """Where state records are kept."""

    async def load(self) -> list[tuple[str, bytes | None]]:
        """Every record, oldest first."""
        ...

    async def write(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Write records; raise :class:`PublishError` if not acknowledged."""
        ...


class MemoryStateBackend:
    """A backend in memory (unit tests, benchmarks); survives poller instances, not processes."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None]] = []

    async def load(self) -> list[tuple[str, bytes | None]]:
        """All records written so far."""
        return list(self.records)

    async def write(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Append."""
        self.records.extend(records)


class KafkaStateBackend:
    """The compacted state topic: written through the shared producer, read with a consumer."""

    def __init__(
        self,
        sender: KafkaSender,
        bootstrap: str,
        topic: str,
        prepare: Callable[[], object] | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.sender = sender
        self.bootstrap = bootstrap
        self.topic = topic
        self._prepare = prepare
        self._client_options = dict(client_options or {})

    async def load(self) -> list[tuple[str, bytes | None]]:
        """Create the topics if needed (``prepare``), then read the topic to its current end."""
        loop = asyncio.get_running_loop()
        if self._prepare is not None:
            await loop.run_in_executor(None, self._prepare)
        return await loop.run_in_executor(
            None,
            functools.partial(
                read_state_topic, self.bootstrap, self.topic, client_options=self._client_options
            ),
        )

    async def follow(
        self, deliver: Callable[[list[tuple[str, bytes | None]]], None]
    ) -> Callable[[], None]:
        """Start tailing the topic in a thread (positioned before returning); return a stopper."""
        if self._prepare is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._prepare)
        stop = threading.Event()
        positioned = threading.Event()
        thread = threading.Thread(
            target=follow_state_topic,
            args=(self.bootstrap, self.topic, deliver, stop, positioned, self._client_options),
            name="poller-state-follower",
            daemon=True,
        )
        thread.start()
        await asyncio.to_thread(positioned.wait, 30)
        return stop.set

    async def write(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Write and wait for acknowledgement."""
        results = await self.sender.send(
            [OutRecord(self.topic, key.encode(), value) for key, value in records]
        )
        failed = [error for error in results if error is not None]
        if failed:
            msg = f"{len(failed)} of {len(records)} state records not acknowledged: {failed[0]!r}"
            raise PublishError(msg)


def read_state_topic(
    bootstrap: str,
    topic: str,
    timeout_s: float = 60.0,
    client_options: Mapping[str, Any] | None = None,
) -> list[tuple[str, bytes | None]]:
    """Every record of the (single-partition) state topic, oldest first; [] if it is new.

    ``client_options`` are extra kafka-python options (security: SSL/SASL).
    """
    import time

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        client_id="wirewatch-poller-state",
        consumer_timeout_ms=1000,
        **dict(client_options or {}),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return []
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end = consumer.end_offsets(assigned)
        out: list[tuple[str, bytes | None]] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in assigned):
            if time.monotonic() > deadline:
                msg = f"could not read the state topic {topic} within {timeout_s:g}s"
                raise PublishError(msg)
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend((m.key.decode(), m.value) for m in batch if m.key is not None)
        return out
    finally:
        consumer.close()


def follow_state_topic(
    bootstrap: str,
    topic: str,
    deliver: Callable[[list[tuple[str, bytes | None]]], None],
    stop: threading.Event,
    positioned: threading.Event,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    """Tail the state topic from its current end until ``stop``; hand new records to ``deliver``.

    Other pollers sharing the topic write their seen ids there; following them lets two pollers
    that own different feeds carrying one story publish it once. ``positioned`` is set once the
    tail position is fixed (so a load that starts afterwards misses nothing). Runs in a thread;
    Kafka being away only pauses it.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    while not stop.is_set():
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                enable_auto_commit=False,
                group_id=None,
                client_id="wirewatch-poller-state-follower",
                **dict(client_options or {}),
            )
        except (KafkaError, OSError):
            stop.wait(5)
            continue
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                stop.wait(2)
                continue
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            if not positioned.is_set():
                consumer.seek_to_end(*assigned)
                for tp in assigned:
                    consumer.position(tp)
                positioned.set()
            while not stop.is_set():
                records = [
                    (m.key.decode(), m.value)
                    for batch in consumer.poll(timeout_ms=500).values()
                    for m in batch
                    if m.key is not None
                ]
                if records:
                    deliver(records)
        except (KafkaError, OSError) as exc:
            log.warning("state follower paused (%s)", type(exc).__name__)
            stop.wait(5)
        finally:
            consumer.close()


class StateStore:
    """Feed states and seen ids in memory, with their pending writes to a backend."""

    def __init__(
        self,
        backend: StateBackend,
        *,
        retention_s: float = 30 * 86400,
        max_ids: int = 500_000,
        schedule_tolerance_s: float = 6 * 3600,
    ) -> None:
        self.backend = backend
        self.retention_s = retention_s
        self.max_ids = max_ids
        self.schedule_tolerance_s = schedule_tolerance_s
        self.records_written = 0
        self.feeds: dict[str, FeedState] = {}
        # Each feed's record as the state topic holds it (loaded or last queued for writing).
        self._stored_feeds: dict[str, FeedState] = {}
        # id -> epoch seconds last seen; ordered from least to most recently seen.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._stored_at: dict[str, float] = {}
        self._dirty: dict[str, bytes | None] = {}
        self._loading = False
        self._remote_backlog: list[tuple[str, bytes | None]] = []

    async def load(self) -> None:
        """Replace memory with what the backend holds (start-up)."""
        self._loading = True
        try:
            records = await self.backend.load()
        finally:
            self._loading = False
        self.feeds.clear()
        self._stored_feeds.clear()
        self._seen.clear()
        self._stored_at.clear()
        for key, value in records:
            if key.startswith(FEED_PREFIX):
                url = key[len(FEED_PREFIX) :]
                if value is None:
                    self.feeds.pop(url, None)
                    continue
                try:
                    self.feeds[url] = FeedState.model_validate_json(value)
                except ValidationError:
                    log.warning("ignoring an unreadable feed state record")
            elif key.startswith(SEEN_PREFIX):
                article_id = key[len(SEEN_PREFIX) :]
                self._seen.pop(article_id, None)
                if value is None:
                    self._stored_at.pop(article_id, None)
                    continue
                try:
                    seen_at = float(json.loads(value)["t"])
                except (ValueError, KeyError, TypeError):
                    continue
                self._seen[article_id] = seen_at
                self._stored_at[article_id] = seen_at
        self._stored_feeds.update(self.feeds)
        # Records arrive in write order, not last-seen order; restore the LRU order.
        self._seen = OrderedDict(sorted(self._seen.items(), key=lambda item: item[1]))
        backlog, self._remote_backlog = self._remote_backlog, []
        self.merge_remote(backlog)

    def merge_remote(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Take in seen ids other pollers wrote (our own come back too: merging is idempotent).

        Feed records and tombstones are left alone: each poller decides for its own feeds and
        its own memory.
        """
        if self._loading:
            self._remote_backlog.extend(records)
            return
        for key, value in records:
            if not key.startswith(SEEN_PREFIX) or value is None:
                continue
            try:
                seen_at = float(json.loads(value)["t"])
            except (ValueError, KeyError, TypeError):
                continue
            article_id = key[len(SEEN_PREFIX) :]
            if seen_at > self._seen.get(article_id, float("-inf")):
                self._seen[article_id] = seen_at
                self._seen.move_to_end(article_id)
            self._stored_at[article_id] = max(seen_at, self._stored_at.get(article_id, seen_at))

    @property
    def seen_count(self) -> int:
        """How many article ids are remembered."""
        return len(self._seen)

    def is_seen(self, article_id: str) -> bool:
        """Whether ``article_id`` was published before."""
        return article_id in self._seen

    def mark_seen(self, ids: Iterable[str], now: datetime) -> None:
        """Remember ids as seen (newly published, or still present in a feed)."""
        stamp = now.timestamp()
        refresh_after = self.retention_s / 4
        for article_id in ids:
            self._seen[article_id] = stamp
            self._seen.move_to_end(article_id)
            if stamp - self._stored_at.get(article_id, float("-inf")) >= refresh_after:
                self._stored_at[article_id] = stamp
                self._dirty[SEEN_PREFIX + article_id] = json.dumps({"t": stamp}).encode()

    def evict(self, now: datetime) -> int:
        """Forget ids unseen for the retention period, and the oldest beyond the cap."""
        horizon = now.timestamp() - self.retention_s
        evicted = 0
        while self._seen:
            article_id, seen_at = next(iter(self._seen.items()))
            if seen_at >= horizon and len(self._seen) <= self.max_ids:
                break
            self._seen.popitem(last=False)
            self._stored_at.pop(article_id, None)
            self._dirty[SEEN_PREFIX + article_id] = None
            evicted += 1
        return evicted

    def feed(self, url: str) -> FeedState:
        """The state of ``url`` (a fresh one for a new feed)."""
        state = self.feeds.get(url)
        if state is None:
            state = self.feeds[url] = FeedState(url=url)
        return state

    def put_feed(self, state: FeedState) -> None:
        """Replace a feed's state; queue it for writing if a restart would need it."""
        self.feeds[state.url] = state
        if worth_writing(self._stored_feeds.get(state.url), state, self.schedule_tolerance_s):
            self._stored_feeds[state.url] = state
            self._dirty[FEED_PREFIX + state.url] = state.model_dump_json().encode()

    def retain_feeds(self, urls: Iterable[str]) -> None:
        """Forget, in memory, the feeds not in ``urls`` (removed from the list, other shards)."""
        wanted = set(urls)
        for url in [u for u in self.feeds if u not in wanted]:
            del self.feeds[url]
            self._stored_feeds.pop(url, None)

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._dirty)

    async def flush(self) -> None:
        """Write pending records; on failure they stay pending for the next flush."""
        if not self._dirty:
            return
        batch = dict(self._dirty)
        self._dirty.clear()
        try:
            await self.backend.write(list(batch.items()))
            self.records_written += len(batch)
        except Exception:
            # Newer values queued meanwhile win over the failed batch.
            for key, value in batch.items():
                self._dirty.setdefault(key, value)
            raise


def ensure_topics(
    bootstrap: str,
    *,
    articles_topic: str,
    state_topic: str,
    partitions: int,
    replication: int,
    client_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the articles topic and the compacted single-partition state topic if missing."""
    import contextlib

    from kafka import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="wirewatch-poller-topics",
        **dict(client_options or {}),
    )
    try:
        existing = set(admin.list_topics())
        wanted: dict[str, dict[str, Any]] = {}
        if articles_topic not in existing:
            wanted[articles_topic] = {
                "num_partitions": partitions,
                "replication_factor": replication,
            }
        if state_topic not in existing:
            wanted[state_topic] = {
                "num_partitions": 1,
                "replication_factor": replication,
                "configs": {"cleanup.policy": "compact"},
            }
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted, wait_for_metadata=True)
        return sorted(wanted)
    finally:
        admin.close()
