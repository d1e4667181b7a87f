"""Parsing and article building: canonical links, plain text, ids, dates, hostile XML, encodings."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.poller.articles import article_id, canonical_link, plain_text, plausible_date
from streams.poller.logsafe import log_safe
from streams.poller.parser import ParseJob, run_parse_job
from tests.feedserver import FeedServer

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def parse(
    body: bytes, content_type: str = "application/rss+xml", feed: str = "https://f.example/rss"
):  # type: ignore[no-untyped-def]
    return run_parse_job(
        ParseJob(body, {"content-type": content_type}, feed, feed, "", ("t",), NOW)
    )


def rss(*items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f"{head}<rss version='2.0'><channel><title>Wire</title><link>https://f.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://News.Example.COM:443/a/b?utm_source=x&id=7&fbclid=abc&gclid=1#top",
            "https://news.example.com/a/b?id=7",
        ),
        ("http://x.example/p?mc_cid=1&mc_eid=2&UTM_Medium=3", "http://x.example/p"),
        ("http://x.example:8080", "http://x.example:8080/"),
        ("https://x.example/p?b=2&a=1", "https://x.example/p?b=2&a=1"),
        ("javascript:alert(1)", ""),
        ("ftp://x.example/f", ""),
        ("not a url", ""),
        ("http://[::1]:99999/", ""),
        (None, ""),
    ],
)
def test_canonical_link(url: str | None, expected: str) -> None:
    assert canonical_link(url) == expected


def test_plain_text_strips_markup_scripts_and_invisible_characters() -> None:
    html = "<p>Hello <b>world</b> &amp; <script>alert(1)</script>friends</p><style>p{}</style>"
    assert plain_text(html) == "Hello world & friends"
    assert plain_text("Zero\u200bwidth\u202eRTL\n\n  lines") == "ZerowidthRTL lines"
    assert plain_text("x" * 50, limit=10) == "x" * 9 + "…"
    assert plain_text("") == "" and plain_text(None) == ""


@pytest.mark.parametrize(
    ("parsed", "expected"),
    [
        (
            time.struct_time((2026, 11, 26, 8, 0, 0, 3, 330, 0)),
            datetime(2026, 11, 26, 8, tzinfo=UTC),
        ),
        (time.struct_time((1970, 1, 1, 0, 0, 0, 3, 1, 0)), None),
        (time.struct_time((2999, 1, 1, 0, 0, 0, 3, 1, 0)), None),
        (None, None),
    ],
)
def test_plausible_dates(parsed: time.struct_time | None, expected: datetime | None) -> None:
    assert plausible_date(parsed, NOW) == expected


def test_dates_missing_epoch_future_garbage_and_odd_zones_keep_the_entry() -> None:
    dates = [
        "",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Mon, 01 Jan 2999 00:00:00 GMT",
        "yesterday-ish, maybe",
        "Wed, 26 Nov 2026 23:30:00 +1345",
        "2026-11-26T08:00:00-09:30",
    ]
    items = [
        f"<item><title>t{i}</title><link>https://f.example/{i}</link><pubDate>{d}</pubDate></item>"
        for i, d in enumerate(dates)
    ]
    outcome = parse(rss(*items))
    assert outcome.error is None
    published = {a.title: a.published for a in outcome.articles}
    assert published == {
        "t0": None,
        "t1": None,
        "t2": None,
        "t3": None,
        "t4": datetime(2026, 11, 26, 9, 45, tzinfo=UTC),
        "t5": datetime(2026, 11, 26, 17, 30, tzinfo=UTC),
    }
    assert all(a.published is None or a.published.tzinfo is not None for a in outcome.articles)


def test_ids_link_then_guid_then_content() -> None:
    a = parse(rss("<item><guid>1</guid><link>https://s.example/x?utm_source=a</link></item>"))
    b = parse(rss("<item><guid>changed</guid><link>https://S.example/x#frag</link></item>"))
    assert a.articles[0].id == b.articles[0].id
    assert a.articles[0].link == "https://s.example/x"
    # Syndicated: the same link through another feed is the same article.
    c = parse(
        rss("<item><link>https://s.example/x?fbclid=9</link></item>"), feed="https://o.example/"
    )
    assert c.articles[0].id == a.articles[0].id
    # GUID only: scoped by feed, stable across polls.
    g1 = parse(rss("<item><guid isPermaLink='false'>42</guid><title>T</title></item>"))
    g2 = parse(rss("<item><guid isPermaLink='false'>42</guid><title>T2</title></item>"))
    g3 = parse(rss("<item><guid isPermaLink='false'>42</guid></item>"), feed="https://o.example/")
    assert g1.articles[0].id == g2.articles[0].id != g3.articles[0].id
    # Neither: a hash of the text, the same for the same story.
    h1 = parse(rss("<item><title>Big news</title><description>It happened.</description></item>"))
    h2 = parse(rss("<item><title>Big  NEWS</title><description>It happened.</description></item>"))
    assert h1.articles[0].id == h2.articles[0].id
    assert article_id("", "", "f", "a", "b") != article_id("", "", "f", "a", "c")


def test_article_fields(corpus_dir: Path) -> None:
    body = (corpus_dir / "news/feeds/fixtures/rss-parser/guardian.rss").read_bytes()
    outcome = parse(body)
    assert outcome.error is None and outcome.warning is None
    first = outcome.articles[0]
    assert first.link.startswith("https://www.theguardian.com/")
    assert "<" not in first.summary and first.title
    assert first.source == "The Guardian"
    assert first.tags == ("t",) and first.fetched_at == NOW and first.schema_ == "articles.v1"
    assert type(first).from_json(first.to_json()) == first


def test_billion_laughs_and_xxe_expand_nothing(tmp_path: Path, feed_server: FeedServer) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    laughs = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">'
        + laughs
        + f'<!ENTITY xxe SYSTEM "file://{secret}">'
        + f'<!ENTITY remote SYSTEM "{feed_server.url("/xxe")}">]>'
        + "<rss version='2.0'><channel><title>x</title>"
        + "<item><title>&lol9;</title><link>https://f.example/1</link>"
        + "<description>&xxe; &remote;</description></item></channel></rss>"
    ).encode()
    started = time.monotonic()
    outcome = parse(body)
    assert time.monotonic() - started < 5  # nothing exponential happened (generous bound)
    text = " ".join(f"{a.title} {a.summary}" for a in outcome.articles)
    assert "TOP-SECRET" not in text
    assert "lollollol" not in text
    assert outcome.error is not None or outcome.articles
    assert feed_server.requests == []  # no outbound request for the external entity


def test_wrong_declared_encoding_and_text_plain_still_give_unicode() -> None:
    item = "<item><title>Caf\u00e9 \u2013 na\u00efve \u201cquotes\u201d</title><link>https://f.example/1</link></item>"
    body = rss(item).decode().encode("windows-1252")  # declared utf-8, bytes cp1252
    outcome = parse(body)
    assert outcome.error is None and outcome.warning is not None  # a warning, not a failure
    title = outcome.articles[0].title
    assert title.startswith("Caf") and "\ufffd" not in title and "na\u00efve" in title
    served_plain = parse(rss(item), content_type="text/plain")
    assert served_plain.error is None
    assert served_plain.articles[0].title == "Caf\u00e9 \u2013 na\u00efve \u201cquotes\u201d"


def test_truncated_xml_keeps_readable_entries(corpus_dir: Path) -> None:
    body = (corpus_dir / "news/feeds/fixtures/rss-parser/guardian.rss").read_bytes()
    outcome = parse(body[: len(body) // 2])
    assert outcome.error is None
    assert outcome.warning is not None
    assert 5 < len(outcome.articles) < 55


def test_bozo_without_entries_is_the_feeds_error() -> None:
    for junk in (b"<html><body>Not a feed", b"\x00\xff garbage", b"", b'{"json": true}'):
        outcome = parse(junk)
        assert outcome.articles == ()
        assert outcome.error is not None


def test_text_with_html_script_and_javascript_links_is_cleaned() -> None:
    item = (
        "<item><title>&lt;script&gt;alert(1)&lt;/script&gt;Headline</title>"
        "<link>javascript:alert(2)</link><guid>g-1</guid>"
        "<description>&lt;a href='javascript:x'&gt;click&lt;/a&gt; "
        "&lt;b&gt;bold&lt;/b&gt;</description></item>"
    )
    article = parse(rss(item)).articles[0]
    assert article.title == "Headline"
    assert "javascript" not in article.link
    assert article.summary == "click bold"


def test_log_safe_makes_one_line() -> None:
    text = "Headline\r\n2026-11-27 INFO fake record\x1b[31m red\x1b]0;title\x07 \x9b end"
    assert log_safe(text) == "Headline 2026-11-27 INFO fake record red end"
    assert len(log_safe("y" * 1000, 50)) == 50


def test_relative_links_resolve_against_where_the_feed_was_fetched() -> None:
    body = rss("<item><title>t</title><link>/news/1?utm_source=a</link></item>")
    job = ParseJob(
        body,
        {"content-type": "application/rss+xml"},
        "https://site.example/feeds/x.xml",
        "https://old.example/rss",
        "",
        (),
        NOW,
    )
    assert run_parse_job(job).articles[0].link == "https://site.example/news/1"


async def test_wrong_encoding_served_over_http(feed_server: FeedServer) -> None:
    from streams.poller.fetcher import Fetcher, FetchOptions
    from streams.poller.guard import AddressGuard, AddressPolicy

    item = (
        "<item><title>Z\u00fcrich \u2013 caf\u00e9</title><link>https://f.example/z</link></item>"
    )
    cp1252 = rss(item).decode().encode("windows-1252")  # declares utf-8
    urls = [
        feed_server.put("cp1252-as-xml", cp1252, "application/rss+xml; charset=utf-8"),
        feed_server.put("utf8-as-plain", rss(item), "text/plain"),
        feed_server.put("no-type", rss(item), ""),
    ]
    fetcher = Fetcher(FetchOptions(), AddressGuard(AddressPolicy(allow_loopback=True)))
    for url in urls:
        result = await fetcher.fetch(url)
        job = ParseJob(result.body, result.headers, result.url, url, "", (), NOW)
        outcome = run_parse_job(job)
        assert outcome.error is None, url
        title = outcome.articles[0].title
        assert title.startswith("Z") and "\ufffd" not in title and "caf\u00e9" in title, url
    await fetcher.aclose()
