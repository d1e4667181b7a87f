"""Feedback from Slack: reactions on the real worker's alerts become labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.slackserver import SlackServer
from tests.streams.harness import (
    DATA,
    PipelineEnv,
    WorkerProcess,
    read_topic,
    run_cli,
    wait_until,
)
from tests.streams.test_pipeline_e2e import poll_once

pytestmark = pytest.mark.kafka


def alerts_posted(env: PipelineEnv, tmp_path: Path) -> dict[str, str]:
    """Poll the e2e feeds, run the worker until it posted; topic -> article id posted."""
    with FeedServer() as feeds:
        urls = [feeds.put(name, (DATA / f"e2e-feed-{name}.xml").read_bytes()) for name in "abc"]
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in urls))
        poll_once(env, feeds_file)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:

        def posted() -> dict[str, str]:
            outcomes = read_topic(env.bootstrap, env.topic("alert-outcomes.v1"))
            return {o["topic"]: o["article_id"] for o in outcomes if o["outcome"] == "posted"}

        found = wait_until(lambda: len(posted()) >= 2 and posted(), 120)
        assert found, worker.log()[-3000:]
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
    return dict(found)


def test_reactions_on_alerts_become_per_topic_labels_with_their_articles(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    posted = alerts_posted(pipeline, tmp_path)
    [pause_alert] = slack.history("#alerts")
    [twitter_alert] = slack.history("#news")
    slack.react("#alerts", pause_alert["ts"], "-1")  # wrong topic
    slack.react("#news", twitter_alert["ts"], "white_check_mark", user="U2")  # right
    slack.react("#news", twitter_alert["ts"], "eyes", user="U3")  # means nothing here

    labels, articles = tmp_path / "labels.jsonl", tmp_path / "articles.jsonl"
    synced = run_cli(
        pipeline, "feedback", "sync", "--since", "1h",
        "--labels", str(labels), "--articles", str(articles),
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    written = {line["id"]: line for line in map(json.loads, labels.read_text().splitlines())}
    assert written == {
        posted["ai-moratorium"]: {
            "id": posted["ai-moratorium"],
            "judgments": {"ai-moratorium": False},
        },
        posted["twitter-ai"]: {"id": posted["twitter-ai"], "judgments": {"twitter-ai": True}},
    }
    texts = {a["id"]: a for a in map(json.loads, articles.read_text().splitlines())}
    assert set(texts) == {posted["ai-moratorium"], posted["twitter-ai"]}
    assert "pause" in texts[posted["ai-moratorium"]]["title"].lower()
    summary = json.loads(synced.stderr.split("feedback: ", 1)[1])
    assert summary["alert_messages"] == 2 and summary["with_verdict"] == 2
    assert summary["articles_without_text"] == 0
    # Only history reading was needed: no reactions.* method was called.
    methods = {r.method for r in slack.requests}
    assert "conversations.history" in methods
    assert not any(m.startswith("reactions.") for m in methods)


def test_a_channel_that_cannot_be_read_is_named_and_fails_the_sync(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    slack.fail("missing_scope", times=None, method="conversations.history", channel="#news")
    assert run_cli(pipeline, "topics", "create", "--wait", "30").returncode == 0
    labels = tmp_path / "labels.jsonl"
    synced = run_cli(pipeline, "feedback", "sync", "--labels", str(labels))
    assert synced.returncode == 1
    assert "cannot read #news: missing_scope" in synced.stderr
    assert labels.read_text() == ""
    assert "xoxb-" not in synced.stderr + synced.stdout
