"""A Faust agent runs as a real worker process against the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.kafka

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_faust_agent_worker_transforms_records(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic_in, topic_out = f"{unique_name}-in", f"{unique_name}-out"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics(
        {name: {"num_partitions": 1, "replication_factor": 1} for name in (topic_in, topic_out)}
    )
    admin.close()

    env = {
        **os.environ,
        "ECHO_APP_ID": unique_name,
        "ECHO_BOOTSTRAP": kafka_bootstrap,
        "ECHO_IN": topic_in,
        "ECHO_OUT": topic_out,
    }
    log_path = tmp_path / "worker.log"
    faust_cli = Path(sys.executable).with_name("faust")
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [
                str(faust_cli),
                "-A",
                "tests.foundation.echo_app",
                "--datadir",
                str(tmp_path),
                "worker",
                "-l",
                "info",
                "--without-web",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while b"ready" not in log_path.read_bytes().lower():
            assert worker.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)

        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        for word in (b"pause", b"giant", b"experiments"):
            producer.send(topic_in, word)
        producer.flush()
        producer.close()

        consumer = KafkaConsumer(
            topic_out,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=60_000,
        )
        received = []
        for message in consumer:
            received.append(message.value)
            if len(received) == 3:
                break
        consumer.close()
        assert received == [b"PAUSE", b"GIANT", b"EXPERIMENTS"]
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
