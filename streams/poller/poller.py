"""The scheduler: polls due feeds concurrently, publishes new articles once, keeps state.

Run it in-process::

    poller = FeedPoller(feeds, fetcher=..., publisher=..., state=..., options=...)
    await poller.run_forever(stop_event)        # until stop_event is set
    report = await poller.poll_once()           # or one cycle (after ``await poller.start()``)

A feed's failure (fetch, parse) is recorded in its health and scheduled with back-off; it never
reaches the other feeds or the loop. Kafka's failure is not the feed's: nothing is marked as seen
and the validators are kept, so the articles are published on a later poll.

Duplicates: an article id is "claimed" synchronously before publishing (so two feeds carrying the
same story in one cycle publish it once), marked seen only when Kafka acknowledged it, and the seen
ids and validators are written to the state topic right after, so a restart does not repeat them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from streams.poller.config import FeedConfig
from streams.poller.errors import FetchError, PublishError
from streams.poller.fetcher import Fetcher, Validators
from streams.poller.logsafe import log_safe
from streams.poller.parser import ParseJob, parse_off_loop
from streams.poller.publisher import ArticlePublisher
from streams.poller.schedule import Backoff, Intervals
from streams.poller.state import FeedState, StateStore

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Time as the poller sees it (tests inject a fake one)."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...

    async def sleep_until(self, when: datetime, stop: asyncio.Event) -> None:
        """Return at ``when`` or as soon as ``stop`` is set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Now, UTC."""
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, stop: asyncio.Event) -> None:
        """Wait on ``stop`` until ``when``."""
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


@dataclass(frozen=True)
class PollerOptions:
    """Schedule and health settings of the poller."""

    intervals: Intervals = field(default_factory=lambda: Intervals(900, 300, 6 * 3600))
    error_backoff: Backoff = field(default_factory=lambda: Backoff(300, 6 * 3600))
    kafka_retry_s: float = 30.0
    error_threshold: int = 5
    stop_grace_s: float = 10.0
    max_cycle_sleep_s: float = 60.0


@dataclass
class CycleReport:
    """What one cycle did; ``outcomes`` maps feed URL to a word (``articles``, ``empty``,
    ``not_modified``, ``kafka``, or ``error:<kind>``)."""

    polled: int = 0
    published: int = 0
    entries: int = 0
    wire_bytes: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Feeds per outcome word."""
        return dict(Counter(self.outcomes.values()))


class FeedPoller:
    """Polls a fixed set of feeds; see the module docstring."""

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        fetcher: Fetcher,
        publisher: ArticlePublisher,
        state: StateStore,
        options: PollerOptions | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        parse_executor: Executor | None = None,
    ) -> None:
        self.feeds = tuple(feeds)
        self.fetcher = fetcher
        self.publisher = publisher
        self.state = state
        self.options = options or PollerOptions()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.parse_executor = parse_executor
        self._claimed: set[str] = set()
        self._started = False
        self._stop_following: Callable[[], None] | None = None

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Load the state (retrying while Kafka is unreachable); False if stopped first."""
        stop = stop or asyncio.Event()
        if not await self.publisher.start(stop):
            return False
        attempt = 0
        while not self._started:
            try:
                await self._follow_other_pollers()
                await self.state.load()
                self._started = True
            except Exception as exc:  # the broker down at start-up: wait for it, never give up
                attempt += 1
                delay = min(30.0, 2.0**attempt) * (0.5 + self.rng.random() / 2)
                log.warning(
                    "poller state not readable yet (%s); retrying in %.1fs",
                    log_safe(f"{type(exc).__name__}: {exc}", 200),
                    delay,
                )
                await self.clock.sleep_until(self.clock.now() + timedelta(seconds=delay), stop)
                if stop.is_set():
                    return False
        log.info(
            "poller started: %d feeds, %d known, %d remembered article ids",
            len(self.feeds),
            len(self.state.feeds),
            self.state.seen_count,
        )
        return True

    async def _follow_other_pollers(self) -> None:
        follow = getattr(self.state.backend, "follow", None)
        if follow is None or self._stop_following is not None:
            return
        loop = asyncio.get_running_loop()

        def deliver(records: list[tuple[str, bytes | None]]) -> None:
            # After the loop has closed there is nobody left to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.state.merge_remote, records)

        self._stop_following = await follow(deliver)

    async def close(self) -> None:
        """Write pending state, flush the producer, close connections (the SIGTERM path)."""
        if self._stop_following is not None:
            self._stop_following()
            self._stop_following = None
        await self._flush_quietly()
        await self.publisher.close()
        await self.fetcher.aclose()

    def _due(self, feed: FeedConfig, now: datetime, ignore_schedule: bool) -> bool:
        state = self.state.feeds.get(feed.url)
        if state is None or state.next_poll_at is None:
            return True
        if ignore_schedule and state.error_streak == 0:
            # Forcing a poll is for healthy feeds; back-off and Retry-After always hold.
            return True
        return state.next_poll_at <= now

    async def poll_once(self, *, ignore_schedule: bool = False) -> CycleReport:
        """Poll every feed that is due now, concurrently; return what happened."""
        if not self._started:
            await self.start()
        now = self.clock.now()
        due = [feed for feed in self.feeds if self._due(feed, now, ignore_schedule)]
        report = CycleReport(polled=len(due))
        await asyncio.gather(*(self._poll_guarded(feed, report) for feed in due))
        self.state.evict(self.clock.now())
        try:
            await self.state.flush()
        except Exception as exc:
            log.warning("poller state not written (%s); will retry", type(exc).__name__)
        return report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll on schedule until ``stop`` is set; then finish (with grace) and flush."""
        if not await self.start(stop):
            return
        while not stop.is_set():
            cycle = asyncio.create_task(self.poll_once())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({cycle, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not cycle.done():
                # Stopping mid-cycle: let in-flight feeds finish their publish for a moment.
                await asyncio.wait({cycle}, timeout=self.options.stop_grace_s)
                cycle.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await cycle
                stopping.cancel()
                break
            stopping.cancel()
            if cycle.exception() is not None:
                log.error("poll cycle failed: %r", cycle.exception())
            await self.clock.sleep_until(self._next_wake(), stop)
        with contextlib.suppress(Exception):
            await self.state.flush()

    def _next_wake(self) -> datetime:
        now = self.clock.now()
        latest = now + timedelta(seconds=self.options.max_cycle_sleep_s)
        times = [
            s.next_poll_at
            for f in self.feeds
            if (s := self.state.feeds.get(f.url)) is not None and s.next_poll_at is not None
        ]
        if len(times) < len(self.feeds):
            return now
        return max(now, min([*times, latest]))

    async def _poll_guarded(self, feed: FeedConfig, report: CycleReport) -> None:
        try:
            report.outcomes[feed.url] = await self._poll_feed(feed, report)
        except BrokenExecutor as exc:
            # A parse process died (killed for memory, say): the pool is unusable from now on.
            # Parse in this process's threads instead of failing every feed after this one.
            if self.parse_executor is not None:
                log.error("parse processes failed (%s); parsing in threads from now on", exc)
                self.parse_executor = None
            self._record_error(feed, self.clock.now(), "internal", repr(exc), None)
            report.outcomes[feed.url] = "error:internal"
        except Exception as exc:  # a bug on one feed must not end the cycle
            log.exception("internal error polling %s", log_safe(feed.url))
            self._record_error(feed, self.clock.now(), "internal", repr(exc), None)
            report.outcomes[feed.url] = "error:internal"

    async def _poll_feed(self, feed: FeedConfig, report: CycleReport) -> str:
        now = self.clock.now()
        previous = self.state.feed(feed.url)
        try:
            result = await self.fetcher.fetch(
                feed.url, Validators(previous.etag, previous.last_modified)
            )
        except FetchError as exc:
            self._record_error(feed, now, exc.kind, str(exc), exc.retry_after)
            return f"error:{exc.kind}"
        report.wire_bytes += result.wire_bytes
        if result.not_modified:
            self._record_success(feed, now, result.status, result.max_age_s, previous.ttl_minutes)
            return "not_modified"
        outcome = await parse_off_loop(
            ParseJob(
                body=result.body,
                headers=result.headers,
                url=result.url,
                feed_url=feed.url,
                name=feed.name,
                tags=feed.tags,
                fetched_at=now,
            ),
            self.parse_executor,
        )
        report.entries += outcome.entries
        if outcome.error is not None:
            self._record_error(feed, now, "malformed", outcome.error, None)
            return "error:malformed"
        present = [a.id for a in outcome.articles if self.state.is_seen(a.id)]
        fresh = [
            a
            for a in outcome.articles
            if not self.state.is_seen(a.id) and a.id not in self._claimed
        ]
        # Claimed with no await in between: another feed of this cycle skips these ids.
        self._claimed.update(a.id for a in fresh)
        delivered: set[str] = set()
        try:
            if fresh:
                delivered = await self.publisher.publish(fresh)
        except Exception as exc:
            log.warning(
                "publishing %d articles of %s failed: %s",
                len(fresh),
                log_safe(feed.url),
                log_safe(repr(exc)),
            )
        finally:
            self._claimed.difference_update(a.id for a in fresh)
        self.state.mark_seen([*present, *delivered], now)
        report.published += len(delivered)
        if len(delivered) < len(fresh):
            # Kafka's trouble, not the feed's: keep the old validators so the next poll gets the
            # body again, and come back soon.
            state = self.state.feed(feed.url).model_copy(
                update={
                    "last_attempt_at": now,
                    "articles_published": previous.articles_published + len(delivered),
                    "next_poll_at": now + timedelta(seconds=self.options.kafka_retry_s),
                }
            )
            self.state.put_feed(state)
            await self._flush_quietly()
            return "kafka"
        if outcome.warning and outcome.warning != previous.last_warning:
            log.info(
                "feed %s is not well-formed: %s", log_safe(feed.url), log_safe(outcome.warning)
            )
        self._record_success(
            feed,
            now,
            result.status,
            result.max_age_s,
            outcome.ttl_minutes,
            etag=result.validators.etag,
            last_modified=result.validators.last_modified,
            published=len(delivered),
            entries=outcome.entries,
            warning=outcome.warning,
            final_url=result.url if result.url != feed.url else None,
        )
        if delivered:
            # Seen ids go to the state topic right behind the articles: a restart now does not
            # publish them again.
            await self._flush_quietly()
        return "articles" if outcome.articles else "empty"

    async def _flush_quietly(self) -> None:
        try:
            await self.state.flush()
        except (PublishError, Exception) as exc:
            log.warning("poller state not written (%s); will retry", type(exc).__name__)

    def _record_success(
        self,
        feed: FeedConfig,
        now: datetime,
        status: int,
        max_age_s: float | None,
        ttl_minutes: float | None,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        published: int = 0,
        entries: int | None = None,
        warning: str | None = None,
        final_url: str | None = None,
    ) -> None:
        previous = self.state.feed(feed.url)
        if previous.needs_attention:
            log.info("feed %s recovered", log_safe(feed.url))
        interval = self.options.intervals.after_success(
            feed.interval_seconds, ttl_minutes, max_age_s, self.rng
        )
        update: dict[str, object] = {
            "last_attempt_at": now,
            "last_success_at": now,
            "next_poll_at": now + timedelta(seconds=interval),
            "error_streak": 0,
            "needs_attention": False,
            "last_status": status,
            "articles_published": previous.articles_published + published,
            "ttl_minutes": ttl_minutes,
        }
        if status != 304:
            update.update(
                etag=etag,
                last_modified=last_modified,
                last_warning=warning,
                last_entries=entries or 0,
                final_url=final_url,
            )
        self.state.put_feed(previous.model_copy(update=update))

    def _record_error(
        self,
        feed: FeedConfig,
        now: datetime,
        kind: str,
        message: str,
        retry_after: float | None,
    ) -> None:
        previous = self.state.feed(feed.url)
        streak = previous.error_streak + 1
        delay = self.options.error_backoff.delay(streak, self.rng)
        if retry_after is not None:
            delay = max(delay, retry_after)
        attention = streak >= self.options.error_threshold
        message = log_safe(message, 300)
        state: FeedState = previous.model_copy(
            update={
                "last_attempt_at": now,
                "next_poll_at": now + timedelta(seconds=delay),
                "error_streak": streak,
                "last_error_kind": kind,
                "last_error": message,
                "needs_attention": attention,
            }
        )
        self.state.put_feed(state)
        if attention and not previous.needs_attention:
            # The one record an operator must see: the feed crossed the threshold.
            log.error(
                "feed %s needs attention: %d errors in a row, last %s: %s",
                log_safe(feed.url),
                streak,
                kind,
                message,
            )
        elif streak == 1:
            log.info(
                "feed %s failed (%s): %s; retry in %.0fs", log_safe(feed.url), kind, message, delay
            )
        else:
            log.debug("feed %s failed again (%s, %d in a row)", log_safe(feed.url), kind, streak)
