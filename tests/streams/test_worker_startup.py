"""A worker that cannot do its job refuses to start, with the reason, before consuming anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.streams.harness import PipelineEnv, read_topic, run_cli

pytestmark = pytest.mark.kafka


def run_worker(env: PipelineEnv) -> subprocess.CompletedProcess[str]:
    return run_cli(env, "worker")


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


@pytest.mark.model
def test_corrupt_embedding_model_refuses_to_start(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    model = tmp_path / "embedding"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"truncated download")
    (model / "tokenizer.json").write_text("{}")
    env = PipelineEnv(
        kafka_bootstrap, unique_name, tmp_path, {"WIREWATCH_EMBEDDING_MODEL": str(model)}
    )
    result = run_worker(env)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "cannot load the embedding model" in result.stderr
    assert read_topic(kafka_bootstrap, env.topic("matches.v1")) == []
