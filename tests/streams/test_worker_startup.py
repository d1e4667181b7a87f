"""A worker that cannot do its job refuses to start, with the reason, before consuming anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.streams.harness import REPO_ROOT, PipelineEnv, read_topic

pytestmark = pytest.mark.kafka


def run_worker(env: PipelineEnv) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wirewatch", "worker"],
        cwd=REPO_ROOT,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_missing_model_refuses_to_start(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    env = PipelineEnv(
        kafka_bootstrap, unique_name, tmp_path, {"WIREWATCH_SPACY_MODEL": "en_core_web_nonexistent"}
    )
    result = run_worker(env)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "en_core_web_nonexistent" in result.stderr
    # It stopped before creating or consuming anything.
    assert read_topic(kafka_bootstrap, env.topic("matches.v1")) == []


def test_invalid_watchlist_refuses_to_start(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("topics:\n  - id: x\n    unknown_key: 1\n")
    env = PipelineEnv(kafka_bootstrap, unique_name, tmp_path, {"WIREWATCH_WATCHLIST": str(broken)})
    result = run_worker(env)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "broken.yaml:" in result.stderr
