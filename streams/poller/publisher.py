"""Publishing to Kafka with kafka-python: idempotent, acknowledged by all replicas, bounded.

- ``acks="all"`` and ``enable_idempotence=True`` are set explicitly (kafka-python 3 then raises on
  a conflicting option instead of silently turning idempotence off); we also refuse such options
  ourselves at start-up, before connecting, with a clear message (RELIABILITY 23).
- gzip compression (no extra library on either end: aiokafka, under the workers, decodes it), in
  batches of up to 256 KiB: many feeds' articles share one compressed batch, fewer requests.
- The buffer is bounded by a count of records in flight: a caller waits for room (Kafka slow or
  down) rather than records being dropped; ``send`` itself may block up to ``max_block_ms`` on
  metadata, so it runs in a dedicated thread, never on the event loop.
- kafka-python's producer is thread safe but not fork safe: it is created in :meth:`start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from streams.poller.errors import PublishError
from streams.poller.schedule import Backoff
from streams.records import ArticleV1
from wirewatch.errors import ConfigError

log = logging.getLogger(__name__)

PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "compression_type": "gzip",
    # Articles of many feeds arrive within milliseconds of each other in a cycle: large batches
    # compress better and cost fewer produce requests (CPU in this process) than 16 KiB ones.
    "batch_size": 256 * 1024,
    "linger_ms": 10,
    "max_block_ms": 60_000,
    "request_timeout_ms": 30_000,
    # Long enough to ride out a broker restart; the idempotent producer retries without duplicates.
    "delivery_timeout_ms": 300_000,
    "bootstrap_timeout_ms": 10_000,
    "max_request_size": 4 * 1024 * 1024,
}
_ALLOWED_COMPRESSION = ("gzip", None)


def check_producer_config(config: Mapping[str, Any]) -> None:
    """Refuse, loudly, any producer option that would weaken idempotence or acknowledgements."""
    problems = []
    if config.get("enable_idempotence") is not True:
        problems.append("enable_idempotence must be true")
    if config.get("acks") not in ("all", -1, "-1"):
        problems.append(f"acks must be 'all' (got {config.get('acks')!r})")
    if "retries" in config and not (float(config["retries"]) > 0):
        problems.append("retries must be > 0")
    in_flight = config.get("max_in_flight_requests_per_connection", 5)
    if int(in_flight) > 5:
        problems.append(f"max_in_flight_requests_per_connection must be <= 5 (got {in_flight})")
    if config.get("compression_type") not in _ALLOWED_COMPRESSION:
        problems.append(
            f"compression_type {config.get('compression_type')!r} needs extras on both ends; "
            "use gzip"
        )
    if problems:
        msg = "refusing producer options that break idempotent delivery: " + "; ".join(problems)
        raise ConfigError(msg)


@dataclass(frozen=True)
class OutRecord:
    """One record to write."""

    topic: str
    key: bytes
    value: bytes | None


class KafkaSender:
    """One idempotent kafka-python producer shared by the article publisher and the state store."""

    def __init__(
        self,
        bootstrap: str,
        extra_config: Mapping[str, Any] | None = None,
        *,
        max_in_flight_records: int = 10_000,
        client_id: str = "wirewatch-poller",
    ) -> None:
        self.config = {
            **PRODUCER_DEFAULTS,
            **dict(extra_config or {}),
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
        }
        check_producer_config(self.config)
        self._room = asyncio.Semaphore(max_in_flight_records)
        self._max_in_flight = max_in_flight_records
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-send")
        self._producer: Any = None

    @property
    def started(self) -> bool:
        """Whether the producer exists (the broker answered once)."""
        return self._producer is not None

    async def start(
        self,
        stop: asyncio.Event | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> bool:
        """Create the producer, retrying with back-off while Kafka is unreachable.

        Returns False if ``stop`` was set before the broker answered.
        """
        from kafka import KafkaProducer
        from kafka.errors import KafkaConfigurationError, KafkaError

        rng = rng or random.Random()
        backoff = backoff or Backoff(1.0, 30.0)
        attempt = 0
        loop = asyncio.get_running_loop()
        while self._producer is None:
            try:
                self._producer = await loop.run_in_executor(
                    self._thread, lambda: KafkaProducer(**self.config)
                )
            except KafkaConfigurationError as exc:
                msg = f"Kafka producer configuration refused: {exc}"
                raise ConfigError(msg) from None
            except (KafkaError, OSError) as exc:
                attempt += 1
                delay = backoff.delay(attempt, rng)
                log.warning(
                    "kafka unreachable at %s (%s); retrying in %.1fs",
                    self.config["bootstrap_servers"],
                    type(exc).__name__,
                    delay,
                )
                if stop is None:
                    await asyncio.sleep(delay)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                        return False
                    except TimeoutError:
                        pass
        return True

    async def send(self, records: Sequence[OutRecord]) -> list[BaseException | None]:
        """Write ``records``; return, per record, None when acknowledged or the error."""
        if self._producer is None:
            msg = "the Kafka producer is not started"
            raise PublishError(msg)
        if not records:
            return []
        # Wait for room in the bounded buffer instead of dropping (a batch larger than the bound
        # takes it whole, alone).
        needed = min(len(records), self._max_in_flight)
        for _ in range(needed):
            await self._room.acquire()
        try:
            loop = asyncio.get_running_loop()
            # Only the hand-over runs in the send thread (it may block on metadata or a full
            # buffer); acknowledgements are awaited here, so many feeds' records share batches.
            futures = await loop.run_in_executor(self._thread, self._send_all, list(records))
            return await self._outcomes(futures)
        finally:
            for _ in range(needed):
                self._room.release()

    def _send_all(self, records: list[OutRecord]) -> list[Any]:
        from kafka.errors import KafkaError

        futures: list[Any] = []
        for record in records:
            try:
                futures.append(
                    self._producer.send(record.topic, key=record.key, value=record.value)
                )
            except (KafkaError, ValueError, TypeError) as exc:
                futures.append(exc)
        return futures

    async def _outcomes(self, futures: list[Any]) -> list[BaseException | None]:
        """Wait for a batch of kafka-python futures with one asyncio future, no thread held.

        Callbacks run in the producer's I/O thread; the last one to settle wakes the loop once
        (one wake-up per batch rather than per record keeps the loop free at high volume).
        """
        if not futures:
            return []
        loop = asyncio.get_running_loop()
        unsettled = TimeoutError("no acknowledgement within the delivery timeout")
        results: list[BaseException | None] = [unsettled] * len(futures)
        done: asyncio.Future[None] = loop.create_future()
        pending = [len(futures)]
        lock = threading.Lock()

        def settle(index: int, error: BaseException | None) -> None:
            results[index] = error
            with lock:
                pending[0] -= 1
                last = pending[0] == 0
            if last:
                loop.call_soon_threadsafe(wake)

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        for index, future in enumerate(futures):
            if isinstance(future, BaseException):
                settle(index, future)
                continue
            future.add_callback(lambda _metadata, i=index: settle(i, None))
            future.add_errback(lambda error, i=index: settle(i, error))
        timeout_s = self.config["delivery_timeout_ms"] / 1000 + 5
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, timeout_s)
        # Anything still unsettled keeps the timeout error: not acknowledged, not marked seen.
        return list(results)

    async def flush(self, timeout_s: float = 30.0) -> None:
        """Deliver everything buffered (SIGTERM path)."""
        if self._producer is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: self._producer.flush(timeout=timeout_s))

    async def close(self, timeout_s: float = 30.0) -> None:
        """Flush and close the producer and its thread."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: producer.close(timeout=timeout_s))
        self._thread.shutdown(wait=False)


class ArticlePublisher(Protocol):
    """Where articles go; returns the ids Kafka acknowledged."""

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Get ready (connect); False if ``stop`` was set first."""
        ...

    async def close(self) -> None:
        """Flush and release connections."""
        ...

    async def publish(self, articles: Sequence[ArticleV1]) -> set[str]:
        """Publish ``articles``; return the ids acknowledged (the rest failed)."""
        ...


class KafkaArticlePublisher:
    """Articles as ``articles.v1`` JSON on the articles topic, keyed by article id."""

    def __init__(self, sender: KafkaSender, topic: str) -> None:
        self.sender = sender
        self.topic = topic

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Start the shared producer (retrying while Kafka is down)."""
        return await self.sender.start(stop)

    async def close(self) -> None:
        """Flush and close the shared producer."""
        await self.sender.close()

    async def publish(self, articles: Sequence[ArticleV1]) -> set[str]:
        """Publish and return the acknowledged ids."""
        records = [OutRecord(self.topic, a.id.encode(), a.to_json()) for a in articles]
        results = await self.sender.send(records)
        return {a.id for a, error in zip(articles, results, strict=True) if error is None}
