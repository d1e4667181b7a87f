"""Fixtures of the pipeline tests: a loopback Slack and an isolated pipeline environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slackserver import VALID_TOKEN, SlackServer
from tests.streams.harness import DATA, PipelineEnv


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """A Slack-compatible loopback server with the channels of the tests' watchlist."""
    with SlackServer() as server:
        yield server


@pytest.fixture
def pipeline(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, slack: SlackServer
) -> PipelineEnv:
    """Topics, app id and state of this test only, alerting to ``slack``."""
    return PipelineEnv(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        {
            "WIREWATCH_WATCHLIST": str(DATA / "e2e-watchlist.yaml"),
            "WIREWATCH_SLACK_TOKEN": VALID_TOKEN,
            "WIREWATCH_SLACK_API_URL": slack.api_url,
            "WIREWATCH_SLACK_PACE_SECONDS": "0.05",
            "WIREWATCH_DETECT_BATCH_SIZE": "8",
            "WIREWATCH_ALLOW_LOOPBACK": "true",
            "WIREWATCH_POLLER_STATE_TOPIC": f"{unique_name}.poller-state.v1",
            "WIREWATCH_POLLER_WEB_PORT": "0",
        },
    )
