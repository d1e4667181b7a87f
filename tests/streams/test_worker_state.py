"""The worker's tables on disk and their expiry (RELIABILITY.md 25, 43).

A restarted worker reads its RocksDB tables instead of replaying the changelogs from the start,
and decides duplicates as before; expired keys leave the tables and reach the compacted
changelogs as tombstones, while a replay inside the window still never posts twice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.slackserver import SlackServer
from tests.streams.harness import PipelineEnv, WorkerProcess, read_topic, wait_until
from tests.streams.test_pipeline_faults import alert_ids_posted, distinct_stories, publish

pytestmark = pytest.mark.kafka

# One row of faust's recovery tables: "| <topic> | <partition> | <offset> |" (the log formatter
# keeps a record on one line, so the whole table is one line of the log).
_ROW = re.compile(r"[|│]\s*(\S+)\s*[|│]\s*(\d+)\s*[|│]\s*(-?\d+)\s*[|│]")


def recovery_table(log: str, title: str, app_id: str) -> dict[tuple[str, int], int]:
    """The rows of the last faust recovery table titled ``title`` (table changelogs only).

    faust prints a topic name once and a ditto mark on the rows below it.
    """
    lines = [line for line in log.splitlines() if title in line]
    assert lines, f"no {title!r} in the worker log"
    rows: dict[tuple[str, int], int] = {}
    topic = ""
    for name, partition, offset in _ROW.findall(lines[-1]):
        topic = topic if name == "〃" else name
        if topic.startswith(app_id) and topic.endswith("-changelog"):
            rows[(topic, int(partition))] = int(offset)
    return rows


def changelog(bootstrap: str, topic: str) -> list[tuple[str, Any]]:
    """Every (key, value) record of a table changelog, tombstones as ``None`` values."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        auto_offset_reset="earliest",
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    end = consumer.end_offsets(partitions)
    records: list[tuple[str, Any]] = []
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        for messages in consumer.poll(timeout_ms=1000).values():
            records.extend((m.key.decode(), m.value) for m in messages)
    consumer.close()
    return records


def outcomes(env: PipelineEnv) -> list[str]:
    return [o["outcome"] for o in read_topic(env.bootstrap, env.topic("alert-outcomes.v1"))]


def test_a_restart_reads_its_tables_from_disk_and_dedupes_as_before(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    articles = distinct_stories(4, seed=31)
    first = WorkerProcess(pipeline, tmp_path / "worker-1.log").start()  # creates the topics
    try:
        publish(pipeline, articles)
        assert wait_until(lambda: len(alert_ids_posted(slack)) >= 4, 120), first.log()[-3000:]
    finally:
        assert first.stop() == 0
    posted_before = alert_ids_posted(slack)
    assert list(posted_before.values()) == [1, 1, 1, 1]

    second = WorkerProcess(pipeline, tmp_path / "worker-2.log").start()
    try:
        log = second.log()
        highwaters = recovery_table(log, "Highwater - Active", pipeline.name)
        starts = recovery_table(log, "Reading Starts At - Active", pipeline.name)
        written = {tp: offset for tp, offset in highwaters.items() if offset >= 0}
        assert any("posted_alerts" in topic for topic, _ in written), highwaters
        # Each changelog partition with data is read from where the local table left off,
        # which is its end: nothing replayed, let alone from offset 0.
        assert {tp: starts[tp] for tp in written} == written
        assert "Restoring state from changelog topics" not in log
        # The same articles again (a replay): the tables read from disk still know them.
        publish(pipeline, articles)
        assert wait_until(lambda: outcomes(pipeline).count("duplicate") >= 4, 90), log[-3000:]
    finally:
        assert second.stop() == 0
    assert alert_ids_posted(slack) == posted_before


def latest_by_key(records: list[tuple[str, Any]]) -> dict[str, Any]:
    latest: dict[str, Any] = {}
    for key, value in records:
        latest[key] = value
    return latest


def compact_soon(bootstrap: str, topics: list[str]) -> None:
    """Make the broker's log cleaner compact ``topics`` within seconds instead of days."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    topic,
                    configs={
                        "cleanup.policy": "compact",
                        "segment.ms": "1000",
                        "min.cleanable.dirty.ratio": "0.001",
                        "min.compaction.lag.ms": "0",
                        "delete.retention.ms": "0",
                    },
                )
                for topic in topics
            ]
        )
    finally:
        admin.close()


def test_expired_keys_leave_the_tables_and_the_compacted_changelogs(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    pipeline.extra.update(
        {
            "WIREWATCH_STORY_WINDOW_HOURS": "0.002",  # 7.2 s
            "WIREWATCH_STATE_EXPIRY_MARGIN_HOURS": "0",
            "WIREWATCH_POSTED_ALERT_RETENTION_HOURS": "0.003",  # 10.8 s
            "WIREWATCH_STATE_EXPIRY_SECONDS": "1",
        }
    )
    changelogs = [f"{pipeline.name}-{table}-changelog" for table in ("stories", "posted_alerts")]
    article = distinct_stories(1, seed=41)
    worker = WorkerProcess(pipeline, tmp_path / "worker.log").start()
    try:
        compact_soon(pipeline.bootstrap, changelogs)
        publish(pipeline, article)
        assert wait_until(lambda: alert_ids_posted(slack), 120), worker.log()[-3000:]
        posted = alert_ids_posted(slack)
        # A replay inside the window: the story and its posted alert ids are still there.
        publish(pipeline, article)
        assert wait_until(lambda: "duplicate" in outcomes(pipeline), 60), worker.log()[-3000:]
        assert alert_ids_posted(slack) == posted

        def expired_everywhere() -> bool:
            tables = [latest_by_key(changelog(pipeline.bootstrap, t)) for t in changelogs]
            # Every key written is now deleted: its last changelog record is a tombstone.
            return all(table and all(v is None for v in table.values()) for table in tables)

        assert wait_until(expired_everywhere, 90), worker.log()[-3000:]
        log = worker.log()
        assert "state expiry: stories deleted 1 keys" in log
        assert re.search(r"state expiry: posted_alerts deleted [1-9]", log)
        assert re.search(r"state expiry: posted_alerts deleted 0 keys, stamped [1-9]", log)

        def compacted() -> bool:
            # A record in a new segment lets the cleaner compact the one holding the tombstones.
            roll_segments(pipeline.bootstrap, changelogs)
            return all(
                all(v is None for k, v in changelog(pipeline.bootstrap, t) if k != _MARKER)
                for t in changelogs
            )

        # The log cleaner has removed every value written before the tombstones.
        assert wait_until(compacted, 120, interval_s=3), [
            changelog(pipeline.bootstrap, t) for t in changelogs
        ]
    finally:
        assert worker.stop() == 0
    assert alert_ids_posted(slack) == posted


_MARKER = '"compaction-marker"'


def roll_segments(bootstrap: str, topics: list[str]) -> None:
    """A marker record in every partition: a segment older than segment.ms then rolls."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for topic in topics:
        for partition in producer.partitions_for(topic):
            producer.send(topic, key=_MARKER.encode(), value=b"{}", partition=partition)
    producer.flush()
    producer.close()
