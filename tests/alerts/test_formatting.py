"""Formatting: golden Block Kit output, escaping of hostile feed text, Slack's limits."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.formatting import (
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TEXT,
    SlackMessage,
    digest_chunks,
    render_alert,
    render_digest,
    render_mention,
)
from tests.alerts.conftest import build_alert
from tests.slackserver import validate_message

GOLDEN = Path(__file__).parent / "golden"
ARTICLE_URL = "https://www.example.com/business/acme-recall?id=7&amp;src=rss"


def mrkdwn_texts(message: SlackMessage) -> list[str]:
    """Every string of the message Slack parses as mrkdwn (fallback text included)."""
    texts = [message.text]
    for block in message.blocks:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(element["text"] for element in block["elements"])
    return texts


def slack_tokens(message: SlackMessage) -> list[str]:
    """Every ``<...>`` Slack would interpret (links, mentions, dates)."""
    return [token for text in mrkdwn_texts(message) for token in re.findall(r"<([^>]*)>", text)]


def assert_only_our_tokens(message: SlackMessage, link: str = ARTICLE_URL) -> None:
    for token in slack_tokens(message):
        target = token.split("|", 1)[0]
        assert target == link or token.startswith("!date^"), token


def assert_within_limits(message: SlackMessage) -> None:
    assert validate_message(message.payload()) is None
    assert len(message.text) <= MAX_TEXT
    assert len(message.blocks) <= 50
    for block in message.blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER_TEXT
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
    for text in mrkdwn_texts(message):
        # No entity cut in half and no link left open by trimming.
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text[-50:]
        body = text.removeprefix("> ")  # our own quote marker
        assert body.count("<") == body.count(">")


def check_golden(name: str, value: Any) -> None:
    expected = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    assert json.loads(json.dumps(value)) == expected


# --- golden output ------------------------------------------------------------------------------


def test_alert_golden() -> None:
    message = render_alert(build_alert())
    check_golden("alert.json", message.payload())


def test_high_priority_alert_with_mention_golden() -> None:
    alert = build_alert(priority="high", mention="here", published=None)
    check_golden("alert_high_mention.json", render_alert(alert).payload())


def test_digest_golden() -> None:
    alerts = [
        build_alert(story_id=f"s{i}", title=f"Headline {i}", link=f"https://news.example.org/{i}")
        for i in range(3)
    ]
    check_golden("digest.json", render_digest(alerts, "#news").payload())


def test_unfurling_is_off_and_fallback_text_is_useful() -> None:
    message = render_alert(build_alert())
    assert message.unfurl_links is False and message.unfurl_media is False
    assert message.text.startswith("[Acme Corp] Acme Corp recalls 10,000 widgets — Example News")
    assert f"<{ARTICLE_URL}|example.com>" in message.text


# --- escaping (RELIABILITY 19, 20) ---------------------------------------------------------------

HOSTILE = [
    ("<!channel> breaking news", "&lt;!channel&gt; breaking news"),
    ("<!here> read this", "&lt;!here&gt; read this"),
    ("<!everyone> all hands", "&lt;!everyone&gt; all hands"),
    ("Hi <@U123ABC> and <#C0123|general>", "Hi &lt;@U123ABC&gt; and &lt;#C0123|general&gt;"),
    (
        "<https://evil.example|yourbank.com> login",
        "&lt;https://evil.example|yourbank.com&gt; login",
    ),
    ("&lt;!channel&gt; encoded", "&lt;!channel&gt; encoded"),
    ("AT&T <3 > all", "AT&amp;T &lt;3 &gt; all"),
    ("*bold* _italic_ ~strike~ `code`", "∗bold∗ ˍitalicˍ ∼strike∼ ˋcodeˋ"),
    ("> fake quote\n> second", "&gt; fake quote &gt; second"),
    ("<script>alert('x')</script>Safe text", "Safe text"),
    ('<p>Para <b>bold</b> <a href="javascript:alert(1)">click</a></p>', "Para bold click"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;tags as text", "tags as text"),
    ("<!-- hidden -->visible", "visible"),
    ("evil\u202etxt.exe and zero\u200bwidth", "eviltxt.exe and zerowidth"),
    ("line one\r\nFAKE LOG LINE level=error\x1b[31m", "line one FAKE LOG LINE level=error[31m"),
]


@pytest.mark.parametrize(("hostile", "shown"), HOSTILE)
@pytest.mark.parametrize("where", ["title", "snippet", "source", "entity", "evidence"])
def test_feed_text_is_shown_literally_and_never_fires(where: str, hostile: str, shown: str) -> None:
    cases: dict[str, dict[str, Any]] = {
        "title": {"title": hostile},
        "snippet": {"snippet": hostile, "highlights": ()},
        "source": {"source": hostile},
        "entity": {"entities": ({"text": hostile, "label": "ORG"},)},
        "evidence": {"evidence": ({"text": hostile, "field": "summary", "rule": hostile},)},
    }
    overrides = cases[where]
    message = render_alert(build_alert(**overrides))
    assert_only_our_tokens(message)
    assert_within_limits(message)
    joined = "\n".join(mrkdwn_texts(message))
    assert shown in joined
    for raw in ("<!channel", "<!here", "<!everyone", "<@U", "<#C", "<https://evil", "<script"):
        assert raw not in joined
    assert "alert(" not in joined and "\x1b" not in joined and "\u202e" not in joined


def test_formatting_characters_never_reach_slack_raw() -> None:
    alert = build_alert(
        title="*Acme* _x_ ~y~ `z`", snippet="*Acme Corp* `x`", source="_S_", topic_name="*T*"
    )
    message = render_alert(alert)
    headline = message.blocks[1]["text"]["text"]
    # The only asterisks are the ones wrapping the headline link.
    assert headline.startswith("*<") and headline.count("*") == 2
    snippet = message.blocks[2]["text"]["text"]
    assert snippet == "> ∗*Acme Corp*∗ ˋxˋ"
    first_line, facts = headline.split("\n")
    assert not set("_`~") & set(first_line)
    assert facts.startswith("ˍSˍ · ")


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/path",
        "ftp://example.com/file",
        "https://",
        "https://exa mple.com/",
        "",
    ],
)
def test_only_http_links_become_links(link: str) -> None:
    message = render_alert(build_alert(link=link))
    assert slack_tokens(message) == [t for t in slack_tokens(message) if t.startswith("!date^")]
    assert "javascript" not in "\n".join(mrkdwn_texts(message)).lower()
    assert "Acme Corp recalls 10,000 widgets" in message.blocks[1]["text"]["text"]


def test_a_link_shows_its_real_host_and_cannot_break_out() -> None:
    link = "https://evil.example/path?q=<x>|bank.com&a=*b*"
    message = render_alert(build_alert(title="yourbank.com", source="Your Bank", link=link))
    headline = message.blocks[1]["text"]["text"]
    (token,) = [t for t in slack_tokens(message) if not t.startswith("!date")][:1]
    assert token.startswith("https://evil.example/path?q=%3Cx%3E%7Cbank.com&amp;a=%2Ab%2A|")
    assert "evil.example" in headline.split("\n")[1]  # the real host, next to the source
    assert_within_limits(message)


@pytest.mark.parametrize(
    ("mention", "rendered"),
    [
        ("here", "<!here>"),
        ("@here", "<!here>"),
        ("<!here>", "<!here>"),
        ("channel", "<!channel>"),
        ("@channel", "<!channel>"),
        ("subteam^S0123ABC", "<!subteam^S0123ABC>"),
        ("everyone", None),
        ("U0123", None),
        ("here> <!everyone", None),
        ("", None),
        (None, None),
    ],
)
def test_mentions_are_opt_in_and_limited(mention: str | None, rendered: str | None) -> None:
    assert render_mention(mention) == rendered
    message = render_alert(build_alert(mention=mention))
    if rendered:
        assert message.text.startswith(rendered)
        assert message.blocks[1]["text"]["text"].startswith(rendered)
    else:
        assert "<!" not in message.text.replace("<!date", "")


def test_snippet_highlights_by_string_and_offset() -> None:
    snippet = "Shares of Acme Corp fell; ACME CORP said the recall was voluntary."
    message = render_alert(build_alert(snippet=snippet, highlights=((10, 19), "recall")))
    assert message.blocks[2]["text"]["text"] == (
        "> Shares of *Acme Corp* fell; *ACME CORP* said the *recall* was voluntary."
    )


def test_overlapping_highlights_merge() -> None:
    message = render_alert(
        build_alert(snippet="Acme Corp Ltd", highlights=("Acme Corp", "Corp Ltd"))
    )
    assert message.blocks[2]["text"]["text"] == "> *Acme Corp Ltd*"


def test_published_time_uses_slack_date_formatting() -> None:
    message = render_alert(build_alert())
    assert (
        "<!date^1795703400^{date_short_pretty} {time}|2026-11-26 14:30 UTC>"
        in (message.blocks[1]["text"]["text"])
    )
    naive = render_alert(build_alert(published=datetime(2026, 11, 26, 14, 30)))
    assert "|2026-11-26 14:30 UTC>" in naive.blocks[1]["text"]["text"]


def test_empty_fields_still_make_a_valid_message() -> None:
    alert = build_alert(
        title="", snippet="", source="", link="", entities=(), evidence=(), published=None
    )
    message = render_alert(alert)
    assert_within_limits(message)
    assert "(no headline)" in message.blocks[1]["text"]["text"]


# --- limits (RELIABILITY 33) ---------------------------------------------------------------------


def test_oversized_alert_is_trimmed_not_rejected() -> None:
    alert = build_alert(
        topic_name="T" * 500,
        title="<&>" * 5000,
        snippet=("Acme & <Corp> " * 10_000),
        source="S&" * 1000,
        entities=tuple({"text": f"Entity {i} & co", "label": "ORG"} for i in range(1000)),
        evidence=tuple(
            {"text": "x" * 500, "field": "f" * 200, "rule": "<r>" * 200} for _ in range(99)
        ),
        watchlist_version="v" * 1000,
    )
    message = render_alert(alert)
    assert_within_limits(message)
    assert message.blocks[0]["text"]["text"].endswith("…")
    assert message.blocks[2]["text"]["text"].endswith("…")
    assert "+992 more" in message.blocks[3]["text"]["text"]


@pytest.mark.parametrize(
    "markup",
    [
        "<script" * 20_000,
        "<a x" * 50_000,
        "<style>" + "x" * 100_000,
        "<!--" * 50_000,
        "&lt;script" * 20_000,
        "<" * 100_000,
    ],
)
def test_pathological_markup_renders_within_limits(markup: str) -> None:
    alert = build_alert(
        title=markup,
        snippet=markup + " Acme Corp",
        source=markup,
        highlights=tuple("abcdefghijklmnopqrstuvwxyz") * 10,
        entities=tuple({"text": markup, "label": "ORG"} for _ in range(5000)),
        evidence=tuple({"text": markup, "field": "title", "rule": markup} for _ in range(100)),
    )
    message = render_alert(alert)
    assert_within_limits(message)
    assert_only_our_tokens(message)


def test_digest_of_long_headlines_respects_every_limit() -> None:
    alerts = [
        build_alert(story_id=f"s{i}", title=("Long & <headline> " * 300), topic_name=f"Topic {i}")
        for i in range(40)
    ]
    message = render_digest(alerts, "#news")
    assert_within_limits(message)
    listed = "\n".join(b["text"]["text"] for b in message.blocks if b["type"] == "section")
    assert listed.count("• ") == 40


def test_digest_chunks_list_every_alert_exactly_once() -> None:
    alerts = [build_alert(story_id=f"s{i}") for i in range(500)]
    chunks = digest_chunks(alerts)
    assert [a.alert_id for chunk in chunks for a in chunk] == [a.alert_id for a in alerts]
    assert [len(chunk) for chunk in chunks] == [39] * 6 + [38] * 7
    assert [len(chunk) for chunk in digest_chunks(alerts[:41])] == [21, 20]
    assert digest_chunks([]) == []
    assert render_digest(alerts[:1], "#news").blocks[0]["text"]["text"] == "1 new alert: Acme Corp"
    for chunk in chunks:
        assert_within_limits(render_digest(chunk, "#news"))


def test_digest_escapes_feed_text_everywhere() -> None:
    alerts = [
        build_alert(story_id="x", title="<!channel> *x*", source="<@U1> `s`", link=""),
        build_alert(story_id="y", topic_name="<!here> topic", source="<https://evil|bank>"),
    ]
    message = render_digest(alerts, "#news")
    assert_within_limits(message)
    for token in slack_tokens(message):
        assert token.startswith(ARTICLE_URL), token
    joined = "\n".join(mrkdwn_texts(message))
    assert "&lt;!channel&gt; ∗x∗" in joined and "&lt;@U1&gt; ˋsˋ" in joined
    assert "<!here>" not in joined  # (the header is plain_text: Slack parses nothing there)


def test_digest_mentions_once_with_the_strongest_opt_in() -> None:
    alerts = [
        build_alert(story_id="a", priority="normal", mention="channel"),
        build_alert(story_id="b", priority="high", mention="here"),
        build_alert(story_id="c"),
    ]
    message = render_digest(alerts, "#news")
    assert message.text.startswith("<!here> 3 new alerts")
    joined = "\n".join(mrkdwn_texts(message))
    assert joined.count("<!here>") == 2 and "<!channel>" not in joined
