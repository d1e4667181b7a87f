"""Near misses from a detection result to the Kafka topic, and back out for labeling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from monitors.results import DetectionResult, Evidence, Match, NearMiss
from streams.agents.detect_mentions import NEAR_MISS_CONTENT_CHARS, near_miss_record
from streams.records import ArticleV1, NearMissV1

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
