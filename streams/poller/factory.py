"""Building a :class:`FeedPoller` from :class:`Settings` (the CLI and ``wirewatch run`` use this).

Everything the poller touches is an argument, so a caller can swap any part: tests inject a fake
clock, a stub resolver or a counting publisher; ``wirewatch run`` passes its own bootstrap.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping, Sequence
from typing import Any

import httpcore

from streams.poller.config import FeedConfig, select_shard
from streams.poller.fetcher import Fetcher, FetchOptions
from streams.poller.guard import AddressGuard, AddressPolicy, Resolver
from streams.poller.parse_pool import ParsePool
from streams.poller.poller import Clock, FeedPoller, PollerOptions, SystemClock
from streams.poller.publisher import ArticlePublisher, KafkaArticlePublisher, KafkaSender
from streams.poller.schedule import Backoff, Intervals
from streams.poller.state import KafkaStateBackend, StateStore, ensure_topics
from wirewatch.errors import ConfigError
from wirewatch.settings import Settings


def fetch_options(settings: Settings) -> FetchOptions:
    """The fetcher's limits from settings."""
    return FetchOptions(
        connect_timeout_s=settings.fetch_connect_timeout_seconds,
        read_timeout_s=settings.fetch_read_timeout_seconds,
        total_timeout_s=settings.fetch_total_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        concurrency=settings.poll_concurrency,
        per_host_concurrency=settings.poll_per_host_concurrency,
    )


def poller_options(settings: Settings) -> PollerOptions:
    """The schedule and health options from settings; inconsistent bounds are refused."""
    if settings.poll_min_interval_seconds > settings.poll_max_interval_seconds:
        msg = (
            f"WIREWATCH_POLL_MIN_INTERVAL_SECONDS ({settings.poll_min_interval_seconds:g}) is "
            f"above WIREWATCH_POLL_MAX_INTERVAL_SECONDS ({settings.poll_max_interval_seconds:g})"
        )
        raise ConfigError(msg)
    return PollerOptions(
        intervals=Intervals(
            default_s=settings.poll_interval_seconds,
            min_s=settings.poll_min_interval_seconds,
            max_s=settings.poll_max_interval_seconds,
        ),
        error_backoff=Backoff(
            base_s=settings.poll_min_interval_seconds, cap_s=settings.poll_max_interval_seconds
        ),
        error_threshold=settings.feed_error_threshold,
    )


def address_policy(settings: Settings) -> AddressPolicy:
    """Which non-public addresses feeds may resolve to."""
    return AddressPolicy(
        allow_loopback=settings.allow_loopback, allow_private=settings.allow_private_addresses
    )


def create_kafka_parts(
    settings: Settings, bootstrap: str, client_options: Mapping[str, Any] | None = None
) -> tuple[KafkaArticlePublisher, StateStore]:
    """The article publisher and the state store, sharing one idempotent producer.

    ``client_options`` (e.g. security settings in kafka-python's spelling) go to every client:
    producer, state consumer, admin.
    """
    common = dict(client_options or {})
    sender = KafkaSender(bootstrap, {**common, **settings.producer_options})
    publisher = KafkaArticlePublisher(sender, settings.articles_topic)
    prepare = functools.partial(
        ensure_topics,
        bootstrap,
        articles_topic=settings.articles_topic,
        state_topic=settings.poller_state_topic,
        partitions=settings.topic_partitions,
        replication=settings.topic_replication,
        client_options=common,
    )
    backend = KafkaStateBackend(
        sender, bootstrap, settings.poller_state_topic, prepare=prepare, client_options=common
    )
    state = StateStore(
        backend,
        retention_s=settings.seen_retention_days * 86400,
        max_ids=settings.seen_max_ids,
        # A healthy feed's record is refreshed at least once per longest interval.
        schedule_tolerance_s=settings.poll_max_interval_seconds,
    )
    return publisher, state


def create_poller(
    settings: Settings,
    feeds: Sequence[FeedConfig],
    *,
    bootstrap: str | None = None,
    publisher: ArticlePublisher | None = None,
    state: StateStore | None = None,
    resolver: Resolver | None = None,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    parse_pool: ParsePool | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> FeedPoller:
    """A poller for this process's share of ``feeds`` (``poller_count``/``poller_index``).

    Give either ``bootstrap`` (Kafka publisher and state store are built) or both ``publisher``
    and ``state``. Without ``parse_pool`` the poller makes one from the settings (and closes it
    with itself); a given pool stays the caller's to close.
    """
    if publisher is None or state is None:
        if bootstrap is None:
            msg = "create_poller needs a Kafka bootstrap, or both a publisher and a state store"
            raise ValueError(msg)
        kafka_publisher, kafka_state = create_kafka_parts(settings, bootstrap, client_options)
        publisher = publisher or kafka_publisher
        state = state or kafka_state
    clock = clock or SystemClock()
    guard = AddressGuard(address_policy(settings), resolver)
    fetcher = Fetcher(
        fetch_options(settings), guard, network_backend=network_backend, clock=clock.now
    )
    return FeedPoller(
        select_shard(feeds, settings.poller_count, settings.poller_index),
        fetcher=fetcher,
        publisher=publisher,
        state=state,
        options=poller_options(settings),
        clock=clock,
        rng=rng,
        parse_pool=parse_pool or create_parse_pool(settings),
        owns_parse_pool=parse_pool is None,
    )


def create_parse_pool(settings: Settings) -> ParsePool:
    """The parse workers (started on first use): one per core unless configured."""
    return ParsePool(
        settings.poll_parse_processes or None, deadline_s=settings.poll_parse_timeout_seconds
    )
