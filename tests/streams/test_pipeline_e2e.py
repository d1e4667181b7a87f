"""End to end on real parts: loopback feeds -> poller -> Kafka -> worker -> loopback Slack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.slackserver import SlackServer
from tests.streams.harness import (
    DATA,
    REPO_ROOT,
    PipelineEnv,
    WorkerProcess,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.kafka


def poll_once(env: PipelineEnv, feeds_file: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "wirewatch", "poll", "--feeds", str(feeds_file), "--once"],
        cwd=REPO_ROOT,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_same_story_in_three_feeds_gives_one_slack_message_per_topic(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    with FeedServer() as feeds:
        urls = [feeds.put(name, (DATA / f"e2e-feed-{name}.xml").read_bytes()) for name in "abc"]
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in urls))
        poll_once(pipeline, feeds_file)

    articles = read_topic(pipeline.bootstrap, pipeline.topic("articles.v1"))
    # Feed C's copy has feed A's link plus tracking parameters: one article, not two.
    assert len(articles) == 4, [a["title"] for a in articles]

    worker = WorkerProcess(pipeline, tmp_path / "worker.log").start()
    try:
        matches = wait_until(
            lambda: len(read_topic(pipeline.bootstrap, pipeline.topic("matches.v1"))) >= 3, 90
        )
        assert matches, worker.log()[-3000:]
        outcomes = wait_until(
            lambda: read_topic(pipeline.bootstrap, pipeline.topic("alert-outcomes.v1")), 60
        )
        wait_until(
            lambda: len(read_topic(pipeline.bootstrap, pipeline.topic("alert-outcomes.v1"))) >= 3,
            60,
        )
        outcomes = read_topic(pipeline.bootstrap, pipeline.topic("alert-outcomes.v1"))
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]

    by_topic = {(o["topic"], o["outcome"]) for o in outcomes}
    assert ("ai-moratorium", "posted") in by_topic
    assert ("ai-moratorium", "duplicate") in by_topic  # the syndicated rewrite
    assert ("twitter-ai", "posted") in by_topic
    assert len(slack.posts("#alerts")) == 1
    assert len(slack.posts("#news")) == 1
    assert len(slack.posts()) == 2
    pause_post = slack.posts("#alerts")[0]
    assert "pause" in (pause_post.text or "").lower()
    # Nothing about bike lanes reached Slack.
    assert all("bike" not in (post.text or "").lower() for post in slack.posts())
