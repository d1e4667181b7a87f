"""The state store stays bounded and survives a reload; schedule and back-off arithmetic."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from streams.poller.schedule import Backoff, Intervals, parse_max_age, parse_retry_after
from streams.poller.state import FeedState, MemoryStateBackend, StateStore, ensure_topics

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = 86400


async def test_seen_ids_expire_after_retention_and_respect_the_cap() -> None:
    backend = MemoryStateBackend()
    store = StateStore(backend, retention_s=10 * DAY, max_ids=3)
    store.mark_seen(["a", "b"], T0)
    store.mark_seen(["c"], T0 + timedelta(days=1))
    store.mark_seen(["a"], T0 + timedelta(days=2))  # still in a feed: refreshed in memory
    assert store.evict(T0 + timedelta(days=2)) == 0
    store.mark_seen(["d"], T0 + timedelta(days=3))
    # Over the cap of 3: the least recently seen ("b") goes first.
    assert store.evict(T0 + timedelta(days=3)) == 1
    assert not store.is_seen("b") and store.is_seen("a")
    # Ten days after last sight, "c" is forgotten; "a" (seen on day 2) outlives it.
    assert store.evict(T0 + timedelta(days=11, hours=1)) == 1
    assert not store.is_seen("c") and store.is_seen("a") and store.is_seen("d")
    store.put_feed(FeedState(url="https://f.example/", etag='"x"', error_streak=2))
    await store.flush()
    assert store.pending == 0
    # Eviction wrote tombstones; a reload gives the same memory.
    tombstones = {key for key, value in backend.records if value is None}
    assert tombstones == {"seen|b", "seen|c"}
    reloaded = StateStore(backend, retention_s=10 * DAY, max_ids=3)
    await reloaded.load()
    assert {i for i in "abcd" if reloaded.is_seen(i)} == {"a", "d"}
    assert reloaded.feeds["https://f.example/"].etag == '"x"'
    assert reloaded.feeds["https://f.example/"].error_streak == 2


async def test_refresh_writes_are_rate_limited() -> None:
    backend = MemoryStateBackend()
    store = StateStore(backend, retention_s=8 * DAY)
    for hour in range(48):  # the same id seen in every hourly poll for two days
        store.mark_seen(["x"], T0 + timedelta(hours=hour))
        await store.flush()
    stamps = [json.loads(v)["t"] for k, v in backend.records if k == "seen|x" and v]
    assert len(stamps) == 1  # a quarter of the retention (2 days) has not passed yet
    store.mark_seen(["x"], T0 + timedelta(days=2))
    await store.flush()
    assert len([k for k, _ in backend.records if k == "seen|x"]) == 2


async def test_failed_flush_keeps_records_pending() -> None:
    class Down(MemoryStateBackend):
        async def write(self, records):  # type: ignore[no-untyped-def]
            raise OSError("kafka down")

    store = StateStore(Down())
    store.mark_seen(["a"], T0)
    with pytest.raises(OSError):
        await store.flush()
    assert store.pending == 1


@pytest.mark.kafka
def test_state_topic_is_compacted(kafka_bootstrap: str, unique_name: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    state_topic = f"{unique_name}.state"
    created = ensure_topics(
        kafka_bootstrap,
        articles_topic=f"{unique_name}.articles",
        state_topic=state_topic,
        partitions=3,
        replication=1,
    )
    assert created == sorted([f"{unique_name}.articles", state_topic])
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, state_topic)])
        assert "'cleanup.policy': {'value': 'compact'" in repr(described)
    finally:
        admin.close()
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert len(consumer.partitions_for_topic(state_topic)) == 1
        assert len(consumer.partitions_for_topic(f"{unique_name}.articles")) == 3
    finally:
        consumer.close()


def test_interval_respects_ttl_max_age_and_bounds() -> None:
    rng = random.Random(0)
    intervals = Intervals(default_s=900, min_s=300, max_s=3600)
    assert 900 <= intervals.after_success(None, None, None, rng) <= 990
    assert 300 <= intervals.after_success(10, None, None, rng) <= 330  # clamped up to the minimum
    assert 1800 <= intervals.after_success(None, 30, None, rng) <= 1980  # RSS <ttl> in minutes
    assert 1200 <= intervals.after_success(600, None, 1200, rng) <= 1320  # Cache-Control max-age
    assert 3600 <= intervals.after_success(None, 24 * 60, None, rng) <= 3960  # clamped to max


def test_backoff_grows_jittered_and_capped() -> None:
    rng = random.Random(0)
    backoff = Backoff(base_s=60, cap_s=3600)
    for streak, ceiling in [(1, 60), (2, 120), (3, 240), (7, 3600), (40, 3600)]:
        values = [backoff.delay(streak, rng) for _ in range(50)]
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        assert len(set(values)) > 1  # jitter spreads feeds that fail together


def test_header_parsing() -> None:
    assert parse_retry_after("120", T0) == 120
    assert parse_retry_after("Fri, 27 Nov 2026 12:30:00 GMT", T0) == 1800
    assert parse_retry_after("Fri, 27 Nov 2026 11:30:00 GMT", T0) == 0
    assert parse_retry_after("999999999", T0) == 86400
    assert parse_retry_after("later", T0) is None and parse_retry_after(None, T0) is None
    assert parse_max_age("public, max-age=600") == 600
    assert parse_max_age("s-maxage=10, no-cache") is None
    assert parse_max_age(None) is None


def test_inconsistent_interval_settings_are_refused() -> None:
    from streams.poller.factory import poller_options
    from wirewatch.errors import ConfigError
    from wirewatch.settings import Settings

    settings = Settings(poll_min_interval_seconds=7200, poll_max_interval_seconds=3600)
    with pytest.raises(ConfigError, match="MIN_INTERVAL_SECONDS \\(7200\\) is above"):
        poller_options(settings)


def test_a_feed_record_is_written_only_when_a_restart_needs_it() -> None:
    from streams.poller.state import worth_writing

    stored = FeedState(url="u", etag='"1"', next_poll_at=T0, last_success_at=T0, last_status=200)
    later = stored.model_copy(
        update={
            "next_poll_at": T0 + timedelta(minutes=15),
            "last_success_at": T0 + timedelta(minutes=1),
            "last_status": 304,
        }
    )
    assert not worth_writing(stored, later, schedule_tolerance_s=3600)
    assert worth_writing(stored, later, schedule_tolerance_s=600)  # the schedule drifted too far
    for change in (
        {"etag": '"2"'},
        {"body_hash": "ab"},
        {"error_streak": 1},
        {"needs_attention": True},
    ):
        assert worth_writing(stored, later.model_copy(update=change), schedule_tolerance_s=3600)
    assert worth_writing(None, later, schedule_tolerance_s=3600)
