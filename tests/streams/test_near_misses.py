"""Near misses from a detection result to the Kafka topic, and back out for labeling."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.results import DetectionResult, Evidence, Match, NearMiss
from streams.agents.detect_mentions import NEAR_MISS_CONTENT_CHARS, near_miss_record
from streams.near_misses import collect
from streams.records import ArticleV1, NearMissV1
from tests.slackserver import SlackServer, validate_message
from tests.streams.harness import (
    REPO_ROOT,
    PipelineEnv,
    WorkerProcess,
    produce,
    read_topic,
    run_cli,
    wait_until,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PARTIAL = NearMiss(
    "ai-moratorium", "partial_rule", "rules[0]: found pause; missing AI/artificial intelligence"
)
SEMANTIC = NearMiss(
    "china-llm", "semantic", "similar to example 3 (0.52, threshold 0.58)", 0.52, 0.58
)


def article(n: int, **fields: object) -> ArticleV1:
    values: dict[str, object] = {
        "id": f"https://news.example.org/{n}",
        "link": f"https://news.example.org/{n}",
        "title": f"Tech leaders urge a slowdown, story {n}",
        "summary": "Executives asked labs to pause the race.",
        "content": "Body text.",
        "source": "Example News",
        "published": NOW - timedelta(hours=n),
    }
    values.update(fields)
    return ArticleV1.model_validate(values)


def result(art: ArticleV1, *near: NearMiss, matched: tuple[str, ...] = ()) -> dict[str, object]:
    matches = tuple(
        Match(topic, (Evidence("pause", "title", 0, 5, "rules[0]"),), "pause", "sha256:v1", 1.0)
        for topic in matched
    )
    return DetectionResult(art.id, matches, (), near).to_dict()


def test_a_detection_result_with_near_misses_becomes_one_record_per_article() -> None:
    art = article(1, content="x" * (NEAR_MISS_CONTENT_CHARS + 500))
    record = near_miss_record(art, result(art, PARTIAL, SEMANTIC), "sha256:v1", NOW)
    assert record is not None
    assert record.article_id == art.id and record.title == art.title
    assert [(n.topic, n.reason, n.score, n.threshold) for n in record.near_misses] == [
        ("ai-moratorium", "partial_rule", None, None),
        ("china-llm", "semantic", 0.52, 0.58),
    ]
    assert len(record.content) == NEAR_MISS_CONTENT_CHARS  # bounded, not the whole body
    assert NearMissV1.from_json(record.to_json()) == record
    assert json.loads(record.to_json())["schema"] == "near-misses.v1"


def test_no_near_miss_no_record_and_a_matched_topic_is_no_near_miss() -> None:
    art = article(2)
    assert near_miss_record(art, result(art), "v", NOW) is None
    assert near_miss_record(art, result(art, PARTIAL, matched=("ai-moratorium",)), "v", NOW) is None
    kept = near_miss_record(
        art, result(art, PARTIAL, SEMANTIC, matched=("ai-moratorium",)), "v", NOW
    )
    assert kept is not None
    assert [n.topic for n in kept.near_misses] == ["china-llm"]
    assert kept.matched_topics == ("ai-moratorium",)
    # A detection result without the field (an older pool process) is no near miss either.
    assert near_miss_record(art, {"matches": [], "entities": []}, "v", NOW) is None


def test_replays_and_redetections_show_each_article_once_the_latest_first_seen() -> None:
    art = article(3)
    older = near_miss_record(art, result(art, PARTIAL), "v1", NOW)
    newer = near_miss_record(art, result(art, SEMANTIC), "v2", NOW + timedelta(minutes=5))
    assert older is not None and newer is not None
    batch = collect([newer.to_json(), older.to_json(), older.to_json(), b"not json"])
    assert [r.watchlist_version for r in batch.records] == ["v2"]
    assert batch.invalid == 1
    only = collect([older.to_json(), newer.to_json()], {"ai-moratorium"})
    assert [n.topic for r in only.records for n in r.near_misses] == ["ai-moratorium"]


def _records(count: int) -> list[NearMissV1]:
    records = []
    for n in range(count):
        art = article(n, title=f"<!channel> Chinese firm unveils its ChatGPT challenger {n}")
        near = (PARTIAL,) if n % 2 else (SEMANTIC,)
        record = near_miss_record(art, result(art, *near), "sha256:v1", datetime.now(UTC))
        assert record is not None
        records.append(record)
    return records


@pytest.mark.kafka
def test_near_misses_round_trip_through_kafka_into_an_export_that_eval_reads(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    env = PipelineEnv(kafka_bootstrap, unique_name, tmp_path)
    created = run_cli(env, "topics", "create", "--wait", "30")
    assert created.returncode == 0, created.stderr
    topic = env.topic("near-misses.v1")
    records = _records(4)
    # At-least-once: the first record is delivered twice.
    produce(
        kafka_bootstrap,
        topic,
        [(r.article_id.encode(), r.to_json()) for r in [*records, records[0]]],
    )
    assert len(read_topic(kafka_bootstrap, topic)) == 5

    listed = run_cli(env, "nearmiss", "list", "--since", "1h")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(line["article_id"] for line in lines) == sorted(r.article_id for r in records)
    assert all(line["schema"] == "near-misses.v1" for line in lines)

    from_start = run_cli(
        env, "nearmiss", "list", "--offsets", "0:0,1:0", "--topic", "ai-moratorium"
    )
    assert from_start.returncode == 0, from_start.stderr
    assert len(from_start.stdout.splitlines()) == 2  # the odd ones: partial-rule near misses

    articles, labels = tmp_path / "near-articles.jsonl", tmp_path / "near-labels.jsonl"
    exported = run_cli(
        env,
        "nearmiss",
        "export",
        "--since",
        "1h",
        "--articles",
        str(articles),
        "--labels",
        str(labels),
    )
    assert exported.returncode == 0, exported.stderr
    assert "exported 4 articles" in exported.stderr
    template = [json.loads(line) for line in labels.read_text().splitlines()]
    assert all(line["judgments"] == {} for line in template)
    assert {t for line in template for t in line["candidates"]} == {"ai-moratorium", "china-llm"}
    exported_articles = [json.loads(line) for line in articles.read_text().splitlines()]
    assert [a["id"] for a in exported_articles] == [line["id"] for line in template]
    assert exported_articles[0]["title"].startswith("<!channel> Chinese firm")

    # The export is what `watchlist eval --articles` reads (labels here in the topics form).
    filled = tmp_path / "filled.jsonl"
    filled.write_text(json.dumps({"id": template[0]["id"], "topics": ["china-llm"]}) + "\n")
    evaluated = run_cli(
        env, "watchlist", "eval", "--articles", str(articles), "--labels", str(filled), "--json"
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)


@pytest.mark.kafka
def test_the_weekly_digest_posts_to_the_operator_channel_only_when_configured(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    with SlackServer(channels=("ops", "alerts")) as slack:
        env = PipelineEnv(
            kafka_bootstrap,
            unique_name,
            tmp_path,
            {
                "WIREWATCH_SLACK_TOKEN": slack.token,
                "WIREWATCH_SLACK_API_URL": slack.api_url,
            },
        )
        off = run_cli(env, "nearmiss", "digest")
        assert off.returncode == 0 and "digest is off" in off.stdout
        bad = run_cli(env, "nearmiss", "list", "--since", "last week")
        assert bad.returncode == 2 and "--since 'last week': use 7d, 36h" in bad.stderr
        missing = run_cli(env, "nearmiss", "digest", "--channel", "#ops")
        assert missing.returncode == 2, missing.stderr
        assert "near-misses.v1 does not exist" in missing.stderr
        assert run_cli(env, "topics", "create", "--wait", "30").returncode == 0
        empty = run_cli(env, "nearmiss", "digest", "--channel", "#ops")
        assert empty.returncode == 0 and "nothing posted" in empty.stdout, empty.stderr
        records = _records(3)
        produce(
            kafka_bootstrap,
            env.topic("near-misses.v1"),
            [(r.article_id.encode(), r.to_json()) for r in records],
        )

        dry = run_cli(env, "nearmiss", "digest", "--channel", "#ops", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["channel"] == "#ops" and slack.posts() == []

        env.extra["WIREWATCH_NEAR_MISS_DIGEST_CHANNEL"] = "#ops"
        posted = run_cli(env, "nearmiss", "digest", "--since", "7d")
        assert posted.returncode == 0, posted.stderr
        assert "3 articles" in posted.stdout
        [post] = slack.posts("#ops")
        assert post.text is not None and post.text.startswith("Near misses")
        assert "<!channel>" not in json.dumps(post.body)
        assert validate_message(post.body) is None
        assert slack.posts("#alerts") == []


@pytest.mark.kafka
def test_the_worker_publishes_a_near_miss_once_per_article_and_nothing_else(
    pipeline: PipelineEnv, tmp_path: Path
) -> None:
    articles = [
        article(1, title="Tech leaders urge a slowdown"),
        article(2, title="City council approves new bike lanes"),
    ]
    produce(
        pipeline.bootstrap,
        pipeline.topic("articles.v1"),
        [(a.id.encode(), a.to_json()) for a in articles],
    )
    worker = WorkerProcess(pipeline, tmp_path / "worker.log")
    with worker.log_path.open("ab") as log:
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "tests.streams.near_miss_worker"],
            cwd=REPO_ROOT,
            env=pipeline.environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        worker.wait_for_log("Ready", 120)
        found = wait_until(
            lambda: read_topic(pipeline.bootstrap, pipeline.topic("near-misses.v1")), 90
        )
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
    assert [(r["article_id"], r["title"]) for r in found] == [(articles[0].id, articles[0].title)]
    [record] = [NearMissV1.model_validate(r) for r in found]
    assert [(n.topic, n.reason) for n in record.near_misses] == [("ai-moratorium", "partial_rule")]
    assert read_topic(pipeline.bootstrap, pipeline.topic("matches.v1")) == []
    # The record reaches the operator commands as it left the worker.
    listed = run_cli(pipeline, "nearmiss", "list", "--since", "1h")
    assert [json.loads(line)["article_id"] for line in listed.stdout.splitlines()] == [
        articles[0].id
    ]
