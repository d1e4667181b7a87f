"""Shared fixtures: the real Kafka broker, unique names, and the shared corpus location."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slackserver import slack_server  # noqa: F401  (the loopback Slack, for every test)
from wirewatch.localkafka import LocalKafka, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real data nobody on the team wrote; CI lays shared/ beside the clone. Never copied into the repo.
SHARED_DIR = Path(os.environ.get("WIREWATCH_SHARED_DIR", REPO_ROOT.parent / "shared"))
CORPUS_DIR = SHARED_DIR / "corpus"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real broker: ``WIREWATCH_KAFKA_BOOTSTRAP`` or a fresh local one.

    The local broker gets its own ports and a throwaway data folder, so test runs never collide
    with a developer's running broker; the jars are shared and downloaded only once.
    """
    configured = os.environ.get("WIREWATCH_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("kafka"),
        port=free_port(),
        controller_port=free_port(),
    )
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.destroy()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test or run uses: for topics, consumer groups and Faust app ids."""
    base = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")[:40]
    return f"test-{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``../shared/corpus``; fails loudly (never skips) when it is missing."""
    assert CORPUS_DIR.is_dir(), f"the shared corpus is missing: {CORPUS_DIR}"
    return CORPUS_DIR
