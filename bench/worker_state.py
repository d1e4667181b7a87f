"""Worker restart with a large history: restart-to-ready time and memory, memory vs RocksDB store.

Run on demand (not in CI): ``.venv/bin/python bench/worker_state.py [--stories 20000 200000]``.

For each table store and each history size it starts a throwaway local broker's worth of topics
(own app id), writes that many story records straight into the ``stories`` changelog (what a year
of news would leave there without expiry), then starts ``wirewatch worker`` twice: the first start
builds the local tables, the second is the restart that matters. For each start it prints the time
from spawn to faust's "Ready", the part of it spent in table recovery (log timestamps from the
first changelog highwater to "Worker ready"), and the main process's resident memory once ready
(detection processes excluded: they hold spaCy, not tables). All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from kafka import KafkaAdminClient, KafkaProducer  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from streams.stories import StoryEntry, fingerprint  # noqa: E402
from tests.streams.harness import PipelineEnv, WorkerProcess  # noqa: E402
from wirewatch.localkafka import LocalKafka, free_port  # noqa: E402

PARTITIONS = 4
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def fill_stories(bootstrap: str, app_id: str, count: int) -> None:
    """``count`` open stories in the stories changelog, spread over its partitions."""
    topic = f"{app_id}-stories-changelog"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        [NewTopic(topic, PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"})]
    )
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=256 * 1024)
    signature = fingerprint("a bench story", "about the pause on AI development " * 4)
    now = datetime.now(UTC)
    for n in range(count):
        story_id = f"story-bench-{n:08d}"
        entry = StoryEntry(story_id, (f"https://bench.example/{n}",), signature, now)
        producer.send(
            topic,
            key=json.dumps(f"ai-moratorium|{story_id}").encode(),
            value=json.dumps(entry.to_dict()).encode(),
            partition=n % PARTITIONS,
        )
    producer.flush()
    producer.close()


def log_time(line: str) -> float:
    match = _STAMP.match(line)
    assert match, line
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def recovery_seconds(log: str) -> float:
    """From the first changelog highwater to "Worker ready", by the worker's own log stamps."""
    lines = log.splitlines()
    start = next(line for line in lines if "Highwater for active changelog" in line)
    ready = next(line for line in lines if "Worker ready" in line)
    return log_time(ready) - log_time(start)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def start_once(env: PipelineEnv, log_path: Path) -> tuple[float, float, float]:
    started = time.monotonic()
    worker = WorkerProcess(env, log_path).start(timeout_s=1200)
    ready_s = time.monotonic() - started
    time.sleep(2)  # let the table scans of a just-ready worker settle before reading memory
    assert worker.process is not None
    rss = rss_mib(worker.process.pid)
    worker.stop()
    return ready_s, recovery_seconds(log_path.read_text()), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--stores", nargs="+", default=["memory", "rocksdb"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-state-") as scratch:
        root = Path(scratch)
        broker = LocalKafka(data_dir=root / "kafka", port=free_port(), controller_port=free_port())
        broker.start()
        try:
            print("store    stories   start     ready_s  recovery_s  main RSS MiB")
            for count in args.stories:
                for store in args.stores:
                    name = f"bench-{store}-{count}"
                    env = PipelineEnv(
                        broker.bootstrap,
                        name,
                        root / name,
                        {"WIREWATCH_TABLE_STORE": store, "WIREWATCH_WEB_PORT": "0"},
                    )
                    env_partitions = {"WIREWATCH_TOPIC_PARTITIONS": str(PARTITIONS)}
                    env.extra.update(env_partitions)
                    fill_stories(broker.bootstrap, name, count)
                    for label in ("first", "restart"):
                        ready_s, recovery_s, rss = start_once(env, root / f"{name}-{label}.log")
                        print(
                            f"{store:<8} {count:>7}   {label:<8} {ready_s:>8.1f}  "
                            f"{recovery_s:>10.1f}  {rss:>12.0f}",
                            flush=True,
                        )
        finally:
            broker.destroy()


if __name__ == "__main__":
    main()
