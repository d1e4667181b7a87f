"""Watchlist hot reload: push a validated watchlist to a compacted topic; workers switch to it.

`wirewatch watchlist push` validates the file before anything is published, so an invalid file
never reaches the topic. Workers also validate what they read (a file pushed by an older or
foreign tool): an invalid version is reported and the running one stays in force.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.records import WatchlistV1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchlistVersion:
    """A validated watchlist with its YAML text (what detection processes compile)."""

    yaml: str
    source: str
    watchlist: Any  # monitors.watchlist.Watchlist

    @property
    def version(self) -> str:
        """The content hash every match and alert carries."""
        return str(self.watchlist.version)


def parse_version(yaml_text: str, source: str) -> WatchlistVersion:
    """Validate; raises ``monitors.watchlist.WatchlistError`` with every problem."""
    from monitors.watchlist import parse_watchlist

    return WatchlistVersion(yaml_text, source, parse_watchlist(yaml_text, source))


def load_version(path: Path) -> WatchlistVersion:
    """Read and validate a watchlist file; a missing or unreadable one is a ``WatchlistError``."""
    from monitors.watchlist import WatchlistError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        # A worker started without its watchlist says so in one line, not with a traceback.
        reason = getattr(exc, "strerror", None) or str(exc)
        raise WatchlistError([f"{path}: cannot read: {reason}"]) from None
    return parse_version(text, str(path))


class ActiveWatchlist:
    """The watchlist the worker decides under; replaced only by a valid newer one."""

    def __init__(self, initial: WatchlistVersion) -> None:
        self.current = initial
        self.last_error: str | None = None

    def offer(self, record: WatchlistV1) -> bool:
        """Switch to a pushed watchlist if it is valid; report and keep the current one if not."""
        from wirewatch.errors import ConfigError

        if record.version == self.current.version:
            return False
        try:
            candidate = parse_version(record.yaml, record.source or f"pushed:{record.name}")
        except ConfigError as exc:
            self.last_error = str(exc)
            log.error(
                "pushed watchlist %s refused; keeping %s: %s",
                record.version,
                self.current.version,
                exc,
            )
            return False
        self.current = candidate
        self.last_error = None
        log.info("watchlist switched to %s (from %s)", candidate.version, candidate.source)
        return True


def push_watchlist(
    bootstrap: str,
    topic: str,
    path: Path,
    name: str = "default",
    client_options: dict[str, Any] | None = None,
) -> WatchlistV1:
    """Validate ``path`` and publish it; nothing is published when it is invalid.

    ``client_options`` carry the cluster's TLS/SASL settings (``kafka_python_kwargs``).
    """
    from kafka import KafkaProducer

    version = load_version(path)  # raises before anything connects
    record = WatchlistV1(
        name=name,
        version=version.version,
        yaml=version.yaml,
        source=str(path),
        pushed_at=datetime.now(UTC),
    )
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **(client_options or {})
    )
    try:
        producer.send(topic, key=name.encode(), value=record.to_json()).get(timeout=30)
    finally:
        producer.close()
    return record


async def follow_watchlists(
    bootstrap: str,
    topic: str,
    active: ActiveWatchlist,
    stop: asyncio.Event,
    client_options: dict[str, Any] | None = None,
) -> None:
    """Read the compacted topic from its beginning, then follow it, offering each version.

    No consumer group: every worker must see every push, and must re-read the newest one at
    start-up, which committed group offsets would skip.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **(client_options or {})
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                for message in messages:
                    if message.value is None:
                        continue
                    try:
                        record = WatchlistV1.from_json(message.value)
                    except ValueError as exc:
                        log.error(
                            "unreadable record on %s at offset %s: %s", topic, message.offset, exc
                        )
                        continue
                    active.offer(record)
    finally:
        await consumer.stop()
