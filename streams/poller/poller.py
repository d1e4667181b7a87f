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

Only what can be new is parsed: a body identical to the last one (a server without validators)
counts like a 304; otherwise the entries whose bytes were already seen in this feed are cut out
(:mod:`streams.poller.entries`) and the parse pool (:mod:`streams.poller.parse_pool`, killable
processes with a per-feed deadline) gets the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from streams.poller.config import FeedConfig
from streams.poller.doctype import EntityDeclarationRefused, neutralise_doctype
from streams.poller.entries import Entry, EntryMemory, split_entries, without
from streams.poller.errors import FetchError, PublishError
from streams.poller.fetcher import Fetcher, FetchResult, Validators
from streams.poller.logsafe import log_safe
from streams.poller.parse_pool import ParsePool
from streams.poller.parser import ParseJob, ParseOutcome
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
    ``not_modified``, ``kafka``, or ``error:<kind>``).

    ``not_modified`` covers HTTP 304 and a 200 whose body is the same as last time
    (``unchanged_bodies`` counts the latter); ``entries`` were parsed, ``entries_skipped`` were
    recognised by their bytes and not parsed; ``state_records`` were written to the state topic.
    """

    polled: int = 0
    published: int = 0
    entries: int = 0
    entries_skipped: int = 0
    unchanged_bodies: int = 0
    wire_bytes: int = 0
    state_records: int = 0
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
        parse_pool: ParsePool | None = None,
        owns_parse_pool: bool | None = None,
        entry_memory: EntryMemory | None = None,
    ) -> None:
        self.feeds = tuple(feeds)
        self.fetcher = fetcher
        self.publisher = publisher
        self.state = state
        self.options = options or PollerOptions()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        # Made here when not given, and then closed with the poller.
        self._owns_pool = parse_pool is None if owns_parse_pool is None else owns_parse_pool
        self.parse_pool = parse_pool or ParsePool()
        self.entry_memory = entry_memory or EntryMemory(max_feeds=max(1, len(self.feeds)))
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
                # Records of feeds no longer ours (removed, another shard's) stay in the topic.
                self.state.retain_feeds(feed.url for feed in self.feeds)
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
        if self._owns_pool:
            self.parse_pool.close()

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
        written_before = self.state.records_written
        await asyncio.gather(*(self._poll_guarded(feed, report) for feed in due))
        self.state.evict(self.clock.now())
        try:
            await self.state.flush()
        except Exception as exc:
            log.warning("poller state not written (%s); will retry", type(exc).__name__)
        report.state_records = self.state.records_written - written_before
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
        known = self.entry_memory.known(feed.url)
        if result.not_modified:
            self.state.mark_seen([i for i in known.values() if i], now)
            self._record_success(feed, now, result.status, result.max_age_s, previous.ttl_minutes)
            return "not_modified"
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        if body_hash == previous.body_hash:
            # The very bytes of the last successful poll (a server without validators).
            report.unchanged_bodies += 1
            self.state.mark_seen([i for i in known.values() if i], now)
            self._record_success(
                feed,
                now,
                result.status,
                result.max_age_s,
                previous.ttl_minutes,
                etag=result.validators.etag,
                last_modified=result.validators.last_modified,
                unchanged=True,
            )
            return "not_modified"
        try:
            neutralised = neutralise_doctype(result.body)
        except EntityDeclarationRefused as exc:
            self._record_error(feed, now, "entities", str(exc), None)
            return "error:entities"
        pieces = split_entries(neutralised.body, result.headers.get("content-type", ""))
        seen_pieces = {p.digest for p in pieces or () if p.digest in known}
        new_pieces = [p for p in pieces or () if p.digest not in seen_pieces]
        report.entries_skipped += len(seen_pieces)
        outcome: ParseOutcome | None = None
        if pieces is None or new_pieces:
            outcome = await self._parse(feed, result, neutralised.body, pieces, seen_pieces, now)
            report.entries += outcome.entries
            if outcome.error is not None:
                self.entry_memory.forget(feed.url)
                self._record_error(feed, now, outcome.error_kind, outcome.error, None)
                return f"error:{outcome.error_kind}"
        articles = outcome.articles if outcome is not None else ()
        still_there = [known[d] for d in seen_pieces if known[d]]
        present = [a.id for a in articles if self.state.is_seen(a.id)] + still_there
        fresh = [a for a in articles if not self.state.is_seen(a.id) and a.id not in self._claimed]
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
        self._remember_entries(feed.url, pieces, new_pieces, known, outcome)
        warning = outcome.warning if outcome is not None else previous.last_warning
        if neutralised.removed:
            warning = "DOCTYPE internal subset removed (entities are never expanded)"
        if warning and warning != previous.last_warning:
            log.info("feed %s is not well-formed: %s", log_safe(feed.url), log_safe(warning))
        self._record_success(
            feed,
            now,
            result.status,
            result.max_age_s,
            outcome.ttl_minutes if outcome is not None else previous.ttl_minutes,
            etag=result.validators.etag,
            last_modified=result.validators.last_modified,
            published=len(delivered),
            entries=len(pieces) if pieces is not None else outcome.entries if outcome else 0,
            warning=warning,
            final_url=result.url if result.url != feed.url else None,
            body_hash=body_hash,
        )
        if delivered:
            # Seen ids go to the state topic right behind the articles: a restart now does not
            # publish them again.
            await self._flush_quietly()
        return "articles" if articles or still_there else "empty"

    async def _parse(
        self,
        feed: FeedConfig,
        result: FetchResult,
        body: bytes,
        pieces: list[Entry] | None,
        seen_pieces: set[bytes],
        now: datetime,
    ) -> ParseOutcome:
        """Parse ``body`` without the entries already seen; the whole body if that fails."""

        def job(data: bytes) -> ParseJob:
            return ParseJob(
                body=data,
                headers=result.headers,
                url=result.url,
                feed_url=feed.url,
                name=feed.name,
                tags=feed.tags,
                fetched_at=now,
            )

        if pieces is None or not seen_pieces:
            return await self.parse_pool.parse(job(body))
        outcome = await self.parse_pool.parse(job(without(body, pieces, seen_pieces)))
        if outcome.error is not None and outcome.error_kind == "malformed":
            # The cut body failed where the whole one might not: never lose a feed to the cut.
            self.entry_memory.forget(feed.url)
            return await self.parse_pool.parse(job(body))
        return outcome

    def _remember_entries(
        self,
        feed_url: str,
        pieces: list[Entry] | None,
        new_pieces: list[Entry],
        known: dict[bytes, str],
        outcome: ParseOutcome | None,
    ) -> None:
        """Keep the digests of this body's entries whose articles are safely published."""
        if pieces is None:
            self.entry_memory.forget(feed_url)
            return
        digests = {p.digest: known[p.digest] for p in pieces if p.digest in known}
        if outcome is not None:
            if len(outcome.entry_ids) != len(new_pieces):
                # The cut and the parser disagree on what an entry is: no skipping here.
                self.entry_memory.forget(feed_url)
                return
            for piece, article_id in zip(new_pieces, outcome.entry_ids, strict=True):
                # An article claimed by another feed this cycle is not ours to vouch for yet.
                if not article_id or self.state.is_seen(article_id):
                    digests[piece.digest] = article_id
        self.entry_memory.remember(feed_url, digests)

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
        body_hash: str | None = None,
        unchanged: bool = False,
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
        if unchanged:
            update.update(etag=etag, last_modified=last_modified)
        elif status != 304:
            update.update(
                etag=etag,
                last_modified=last_modified,
                last_warning=warning,
                last_entries=entries or 0,
                final_url=final_url,
                body_hash=body_hash,
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
