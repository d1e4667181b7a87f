"""Consumer lag: how far a worker's committed position trails its input partitions' end.

Two views: ``faust_lag(app)`` reads what the running worker already knows (its monitor's end and
committed offsets; no request to the broker, so a scrape never blocks the event loop), and
``group_lag(...)`` asks the brokers for a consumer group's committed offsets (the health check and
SRE tooling, from outside the worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def faust_lag(app: Any) -> dict[tuple[str, int], int]:
    """Lag per (topic, partition) the worker has read from, from Faust's monitor.

    Faust records the offset of the last *processed* message it committed, and the partition's
    high watermark (the next offset to be written), so the records still to do are
    ``end - committed - 1``; a partition read but never committed counts from its first read.
    """
    monitor = app.monitor
    ends: Mapping[Any, int] = monitor.tp_end_offsets or {}
    committed: Mapping[Any, int] = monitor.tp_committed_offsets or {}
    read: Mapping[Any, int] = monitor.tp_read_offsets or {}
    lag: dict[tuple[str, int], int] = {}
    for tp, end in ends.items():
        done = committed.get(tp)
        if done is None:
            first = read.get(tp)
            done = first - 1 if first is not None else -1
        lag[(tp.topic, tp.partition)] = max(0, end - done - 1)
    return lag


def group_lag(
    bootstrap: str, group: str, topics: Iterable[str], client_options: Mapping[str, Any]
) -> dict[tuple[str, int], int]:
    """Lag of consumer ``group`` on ``topics``, asked of the brokers (kafka-python admin).

    A partition the group never committed counts from the start of the log.
    """
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    wanted = set(topics)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="wirewatch-lag", **client_options
    )
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="wirewatch-lag",
        enable_auto_commit=False,
        **client_options,
    )
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(wanted)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        committed = admin.list_group_offsets({group: partitions}).get(group, {})
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        lag = {}
        for tp in partitions:
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            lag[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
        return lag
    finally:
        consumer.close()
        admin.close()


def watch_worker_lag(app: Any, runtime: Any) -> None:
    """Feed the worker's lag to its metrics (``wirewatch_consumer_lag``) and its stall check."""

    def lag() -> dict[tuple[str, int], int]:
        return faust_lag(app)

    runtime.metrics.watch_lag(lag)
    stage_of_topic = {runtime.topics.articles: "detect", runtime.topics.matches: "alert"}

    def backlog_per_stage() -> dict[str, int]:
        waiting = dict.fromkeys(stage_of_topic.values(), 0)
        for (topic, _), count in lag().items():
            if topic in stage_of_topic:
                waiting[stage_of_topic[topic]] += count
        return waiting

    runtime.health.backlog = backlog_per_stage
    runtime.health.stall_seconds = runtime.settings.health_stall_seconds
