"""The local broker is a real Kafka: kafka-python produces, aiokafka consumes."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaProducer

pytestmark = pytest.mark.kafka


async def test_kafka_python_produces_and_aiokafka_consumes(
    kafka_bootstrap: str, unique_name: str
) -> None:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics({unique_name: {"num_partitions": 2, "replication_factor": 1}})
    admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    sent = [{"n": n, "text": f"article {n} ünïcode"} for n in range(20)]
    for record in sent:
        producer.send(unique_name, key=str(record["n"]).encode(), value=json.dumps(record).encode())
    producer.flush(timeout=30)
    producer.close()

    consumer = AIOKafkaConsumer(
        unique_name,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[dict[str, object]] = []
    try:
        while len(received) < len(sent):
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, "no records arrived within 10 s"
            for messages in batches.values():
                received.extend(json.loads(m.value) for m in messages)
    finally:
        await consumer.stop()
    assert sorted(received, key=lambda r: r["n"]) == sent
