"""Running the real worker as a subprocess against the real broker, and reading its topics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from wirewatch.localkafka import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
# Kafka session timeout of test workers: how long a killed worker keeps its partitions.
SESSION_TIMEOUT_S = 10


@dataclass
class PipelineEnv:
    """The environment of one isolated pipeline: its own app id, topics, state and ports."""

    bootstrap: str
    name: str
    home: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.name

    def topic(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        env.update(
            {
                "WIREWATCH_KAFKA_BOOTSTRAP": self.bootstrap,
                "WIREWATCH_APP_ID": self.name,
                "WIREWATCH_TOPIC_PREFIX": self.prefix,
                "WIREWATCH_ARTICLES_TOPIC": self.topic("articles.v1"),
                "WIREWATCH_HOME": str(self.home),
                "WIREWATCH_TOPIC_PARTITIONS": "2",
                "WIREWATCH_DETECT_BATCH_SECONDS": "0.2",
                "WIREWATCH_KAFKA_SESSION_TIMEOUT_SECONDS": str(SESSION_TIMEOUT_S),
                "WIREWATCH_WEB_PORT": str(free_port()),
            }
        )
        env.update(self.extra)
        return env


class WorkerProcess:
    """``wirewatch worker`` as a child process with its log in a file."""

    def __init__(self, env: PipelineEnv, log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: bool = True, timeout_s: float = 120) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wirewatch", "worker"],
                cwd=REPO_ROOT,
                env=self.env.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            self.wait_for_log("Ready", timeout_s)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.log():
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise AssertionError(f"worker exited {code}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in {timeout_s}s:\n{self.log()[-4000:]}")
            time.sleep(0.3)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


def run_cli(
    env: PipelineEnv, *args: str, timeout_s: float = 180
) -> subprocess.CompletedProcess[str]:
    """``wirewatch ARGS`` as a child process in the pipeline's environment."""
    return subprocess.run(
        [sys.executable, "-m", "wirewatch", *args],
        cwd=REPO_ROOT,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> None:
    """Send raw (key, value) records and wait until the broker has them."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=60)
    producer.close()


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record currently in ``topic`` (all partitions), as parsed JSON."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        auto_offset_reset="earliest",
    )
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:  # the topic does not exist (yet)
        consumer.close()
        return []
    assigned = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    end = consumer.end_offsets(assigned)
    records: list[Any] = []
    deadline = time.monotonic() + 30
    while any(consumer.position(tp) < end[tp] for tp in assigned) and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=1000).values():
            records.extend(json.loads(m.value) for m in messages)
    consumer.close()
    return records


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 0.5) -> Any:
    """Poll ``predicate`` until it returns something truthy; return it or fail with the last."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)
