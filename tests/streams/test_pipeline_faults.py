"""The worker under faults (RELIABILITY.md 24-27, 37): poison records, SIGKILL, rebalances, pushes.

The invariant, checked against what the loopback Slack received: every article that reached Kafka
is processed, every alert reaches Slack, and no alert id is posted twice.
"""

from __future__ import annotations

import json
import random
import signal
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.records import ArticleV1
from tests.conftest import CORPUS_DIR
from tests.slackserver import SlackServer
from tests.streams.harness import (
    DATA,
    SESSION_TIMEOUT_S,
    PipelineEnv,
    WorkerProcess,
    produce,
    read_topic,
    run_cli,
    wait_until,
)
from wirewatch.localkafka import free_port

pytestmark = pytest.mark.kafka


def distinct_stories(count: int, seed: int = 7) -> list[ArticleV1]:
    """Articles that each match ai-moratorium and are distinct stories (own links and words).

    Real headlines from the shared corpus make the texts differ; one sentence makes them match.
    """
    titles = [
        json.loads(line)["title"]
        for line in (CORPUS_DIR / "news" / "items.jsonl").read_text().splitlines()
    ]
    rng = random.Random(seed)
    articles = []
    for n in range(count):
        filler = " ".join(rng.sample(titles, 3))
        articles.append(
            ArticleV1(
                id=f"story-{seed}-{n}",
                link=f"https://wire.example/{seed}/{n}",
                title=f"{filler} (item {n})",
                summary=f"{filler}. Researchers call for a pause on AI training.",
                source="test wire",
                fetched_at=datetime.now(UTC),
            )
        )
    return articles


def alert_ids_posted(slack: SlackServer) -> Counter[str]:
    """How often each alert id reached Slack (digests carry several)."""
    seen: Counter[str] = Counter()
    for post in slack.posts():
        payload = (post.metadata or {}).get("event_payload", {})
        seen.update(payload.get("alert_ids", []))
    return seen


def publish(env: PipelineEnv, articles: list[ArticleV1]) -> None:
    produce(
        env.bootstrap, env.topic("articles.v1"), [(a.id.encode(), a.to_json()) for a in articles]
    )


def test_poison_records_go_to_dead_letters_and_the_stream_flows(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    good = distinct_stories(3, seed=11)
    poison = [
        (b"not-json", b"\xff\xfe this is not JSON"),
        (b"missing", json.dumps({"schema": "articles.v1", "title": "no id"}).encode()),
        (b"huge", b"{" + b"x" * (5 * 1024 * 1024)),
    ]
    worker = WorkerProcess(pipeline, tmp_path / "worker.log").start()
    try:
        produce(
            pipeline.bootstrap,
            pipeline.topic("articles.v1"),
            [*poison, *[(a.id.encode(), a.to_json()) for a in good]],
        )
        dead = wait_until(
            lambda: len(read_topic(pipeline.bootstrap, pipeline.topic("articles.dlq.v1"))) >= 3,
            90,
        )
        assert dead, worker.log()[-3000:]
        assert wait_until(lambda: len(alert_ids_posted(slack)) >= 3, 60), worker.log()[-3000:]
    finally:
        assert worker.stop() == 0
    letters = read_topic(pipeline.bootstrap, pipeline.topic("articles.dlq.v1"))
    assert sorted(letter["key"] for letter in letters) == ["huge", "missing", "not-json"]
    assert all(letter["error_kind"] == "invalid_record" and letter["error"] for letter in letters)
    huge = next(letter for letter in letters if letter["key"] == "huge")
    assert huge["original_bytes"] == 5 * 1024 * 1024 + 1
    assert huge["offset"] is not None  # the full original can be found in the input topic


def test_sigkill_mid_batch_loses_nothing_and_posts_nothing_twice(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    articles = distinct_stories(40, seed=21)
    slack.fail("slow:0.3", times=None, method="chat.postMessage")
    publish(pipeline, articles)
    first = WorkerProcess(pipeline, tmp_path / "worker-1.log").start()
    reached = wait_until(lambda: len(alert_ids_posted(slack)) >= 5, 120)
    assert reached, first.log()[-3000:]
    first.stop(signal.SIGKILL)
    slack.clear_faults()
    # Restart once the broker has expelled the killed member, as a supervisor's restart delay
    # would, so the new worker joins a group of one.
    time.sleep(SESSION_TIMEOUT_S + 2)

    second = WorkerProcess(pipeline, tmp_path / "worker-2.log").start()
    try:
        done = wait_until(lambda: len(alert_ids_posted(slack)) >= len(articles), 120)
        assert done, second.log()[-3000:]
    finally:
        assert second.stop() == 0
    posted = alert_ids_posted(slack)
    assert len(posted) == len(articles)
    assert max(posted.values()) == 1, [k for k, v in posted.items() if v > 1]


# A real pathological input, not a stand-in: this pattern backtracks exponentially on a long run
# of "a" that does not end the text (about 30 hours of CPU for the article below).
BACKTRACKING_TOPIC = """
  - id: backtracking
    name: Backtracking pattern
    any:
      - {regex: "(a+)+$"}
    alert:
      channels: ["#alerts"]
"""


def test_pathological_article_times_out_to_dead_letters_while_the_worker_goes_on(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    watchlist = tmp_path / "backtracking.yaml"
    watchlist.write_text((DATA / "e2e-watchlist.yaml").read_text() + BACKTRACKING_TOPIC)
    web_port = free_port()
    pipeline.extra.update(
        {
            "WIREWATCH_WATCHLIST": str(watchlist),
            "WIREWATCH_DETECT_TIMEOUT_SECONDS": "5",
            "WIREWATCH_WEB_PORT": str(web_port),
        }
    )
    pathological = ArticleV1(
        id="backtracking",
        link="https://wire.example/backtracking",
        title="An ordinary headline",
        summary="a" * 40 + "!",
        source="test wire",
        fetched_at=datetime.now(UTC),
    )
    good = distinct_stories(3, seed=51)
    worker = WorkerProcess(pipeline, tmp_path / "worker.log").start()
    try:
        publish(pipeline, [pathological])
        time.sleep(1)  # detection of the pathological article is under way now
        # The event loop is free meanwhile: the worker still answers its health check.
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health", timeout=3) as answer:
            assert json.load(answer)["watchlist_version"].startswith("sha256:")
        publish(pipeline, good)
        letters = wait_until(
            lambda: read_topic(pipeline.bootstrap, pipeline.topic("articles.dlq.v1")), 90
        )
        assert letters, worker.log()[-3000:]
        assert wait_until(lambda: len(alert_ids_posted(slack)) >= 3, 90), worker.log()[-3000:]
    finally:
        assert worker.stop() == 0
    assert [(letter["key"], letter["error_kind"]) for letter in letters] == [
        ("backtracking", "timeout")
    ]
    assert {
        o["article_id"] for o in read_topic(pipeline.bootstrap, pipeline.topic("alert-outcomes.v1"))
    } == {article.id for article in good}


def test_workers_scaled_one_two_one_keep_the_invariants(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    first_wave, second_wave = distinct_stories(20, seed=31), distinct_stories(20, seed=32)
    one = WorkerProcess(pipeline, tmp_path / "worker-1.log").start()
    two = None
    try:
        publish(pipeline, first_wave)
        two = WorkerProcess(pipeline, tmp_path / "worker-2.log").start()
        publish(pipeline, second_wave)
        assert one.stop() == 0  # scale back to one: the rebalance hands its partitions over
        done = wait_until(lambda: len(alert_ids_posted(slack)) >= 40, 180)
        assert done, two.log()[-3000:]
    finally:
        one.stop()
        if two is not None:
            assert two.stop() == 0
    posted = alert_ids_posted(slack)
    assert len(posted) == 40
    assert max(posted.values()) == 1


def test_bad_watchlist_push_is_refused_and_a_good_one_switches_workers(
    pipeline: PipelineEnv, slack: SlackServer, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("topics:\n  - id: x\n    any: []\n")
    refused = run_cli(pipeline, "watchlist", "push", str(broken))
    assert refused.returncode == 2
    assert "broken.yaml:3" in refused.stderr
    assert read_topic(pipeline.bootstrap, pipeline.topic("watchlists.v1")) == []

    worker = WorkerProcess(pipeline, tmp_path / "worker.log").start()
    try:
        renamed = tmp_path / "renamed.yaml"
        renamed.write_text(
            (DATA / "e2e-watchlist.yaml").read_text().replace("id: ai-moratorium", "id: renamed")
        )
        pushed = run_cli(pipeline, "watchlist", "push", str(renamed))
        assert pushed.returncode == 0, pushed.stderr
        worker.wait_for_log("watchlist switched to", 60)
        publish(pipeline, distinct_stories(1, seed=41))
        outcomes = wait_until(
            lambda: read_topic(pipeline.bootstrap, pipeline.topic("alert-outcomes.v1")), 90
        )
        assert outcomes, worker.log()[-3000:]
    finally:
        assert worker.stop() == 0
    assert [o["topic"] for o in outcomes] == ["renamed"]
    versions = {o["watchlist_version"] for o in outcomes}
    assert len(versions) == 1 and versions != {""}
