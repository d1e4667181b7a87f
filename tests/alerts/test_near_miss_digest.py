"""The weekly near-miss digest: Block Kit within Slack's limits, feed text escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from alerts.near_miss_digest import DIGEST_MAX_LINES, NearMissLine, render_near_miss_digest
from tests.slackserver import validate_message

SINCE = datetime(2026, 11, 25, tzinfo=UTC)
UNTIL = datetime(2026, 12, 2, tzinfo=UTC)


def line(n: int, topic: str = "ai-moratorium", **fields: str) -> NearMissLine:
    values = {
        "title": f"Tech leaders urge an AI slowdown, part {n}",
        "link": f"https://news.example.org/{n}",
        "source": "Example News",
        "reason": "partial_rule",
        "detail": "rules[0]: found pause; missing AI/artificial intelligence",
    }
    values.update(fields)
    return NearMissLine(topic=topic, **values)


def test_digest_lists_near_misses_by_topic_with_links_and_why() -> None:
    message = render_near_miss_digest(
        [line(1), line(2, topic="china-llm", reason="semantic", detail="0.52 < 0.58")],
        SINCE,
        UNTIL,
    )
    blocks = message.blocks
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "Near misses 2026-11-25 to 2026-12-02: 2 articles"
    body = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "*ai-moratorium* (1)" in body and "*china-llm* (1)" in body
    assert "<https://news.example.org/1|Tech leaders urge an AI slowdown, part 1>" in body
    assert "semantic: 0.52 &lt; 0.58" in body
    assert blocks[-1]["type"] == "context" and "wirewatch nearmiss export" in str(blocks[-1])
    assert validate_message(message.payload()) is None


def test_feed_text_cannot_ping_format_or_disguise_a_link() -> None:
    hostile = line(
        1,
        title="<!channel> *Breaking* <https://evil.example|bank.example> _now_",
        source="<@U123> Outlet",
        detail="found `pause` <!here>",
        link="javascript:alert(1)",
    )
    message = render_near_miss_digest([hostile], SINCE, UNTIL)
    rendered = json.dumps(message.payload(), ensure_ascii=False)
    for dangerous in (
        "<!channel>",
        "<!here>",
        "<@U123>",
        "<https://evil",
        "javascript:",
        "*Breaking*",
    ):
        assert dangerous not in rendered, dangerous
    assert "&lt;!channel&gt;" in rendered
    assert validate_message(message.payload()) is None


def test_a_huge_week_stays_within_block_kit_limits() -> None:
    long_title = "Artificial intelligence pause " * 40
    lines = [
        line(n, topic=f"topic-{n % 60}", title=long_title, detail="x" * 5000)
        for n in range(DIGEST_MAX_LINES * 3)
    ]
    message = render_near_miss_digest(lines, SINCE, UNTIL)
    payload = message.payload()
    assert validate_message(payload) is None
    assert len(payload["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if "text" in b)
    assert len(payload["text"]) <= 40_000
    assert f"{len(lines)} near misses in all" in json.dumps(payload)


def test_an_empty_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        render_near_miss_digest([], SINCE, UNTIL)
