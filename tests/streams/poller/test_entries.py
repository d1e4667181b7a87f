"""Cutting a body into entries without parsing it: safe cuts only, and the same articles from a
cut body as from the whole one, over every feed of the shared corpus."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.poller.doctype import EntityDeclarationRefused, neutralise_doctype
from streams.poller.entries import EntryMemory, split_entries, without
from streams.poller.parser import ParseJob, ParseOutcome, run_parse_job

from .test_corpus import corpus_files

WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def parse(body: bytes, content_type: str = "application/xml") -> ParseOutcome:
    return run_parse_job(
        ParseJob(body, {"content-type": content_type}, "https://f/", "https://f/", "", (), WHEN)
    )


RSS = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
    b"<item><title>a</title><link>https://e.example/a</link></item>\n"
    b"<item ><title>b</title><link>https://e.example/b</link></item>"
    b"<item/>"
    b"</channel></rss>"
)


def test_split_finds_items_and_entries() -> None:
    pieces = split_entries(RSS)
    assert pieces is not None
    assert [RSS[p.start : p.end][:7] for p in pieces] == [b"<item><", b"<item >", b"<item/>"]
    atom = (
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title>"
        b"<atom:entry><title>x</title></atom:entry><entry><title>y</title></entry></feed>"
    )
    pieces = split_entries(atom)
    assert pieces is not None and len(pieces) == 2
    # Dropping the first entry leaves a document with the second one, feed title intact.
    cut = without(atom, pieces, {pieces[0].digest})
    assert cut == (
        b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title>"
        b"<entry><title>y</title></entry></feed>"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<rss><channel><item><title>a<item>nested</item></title></item></channel></rss>",
        b"<rss><channel><item><description><![CDATA[ </item> ]]></description></item></rss>",
        b"<rss><channel><!-- <item> --><item>x</item></channel></rss>",
        b"<rss><channel><item>never closed</channel></rss>",
        b"<rss><channel><title>no entries</title></channel></rss>",
        b"<?xml version='1.0' encoding='ISO-2022-JP'?><rss><item>x</item></rss>",
        "<rss><item>x</item></rss>".encode("utf-16"),
    ],
    ids=["nested", "cdata", "comment", "unclosed", "empty", "iso-2022", "utf-16"],
)
def test_unsafe_cuts_are_refused(body: bytes) -> None:
    assert split_entries(body) is None


def test_entry_memory_is_bounded() -> None:
    memory = EntryMemory(max_per_feed=3, max_feeds=2)
    memory.remember("a", {bytes([n]): str(n) for n in range(10)})
    assert list(memory.known("a").values()) == ["7", "8", "9"]
    memory.remember("b", {})
    memory.remember("c", {})
    assert len(memory) == 2 and memory.known("a") == {}


def test_cut_bodies_give_the_same_articles_over_the_corpus(corpus_dir: Path) -> None:
    """For every corpus feed the poller would cut: drop every other entry, parse the rest, and
    get exactly the articles the whole body gave for those entries."""
    tally: Counter[str] = Counter()
    for relative in corpus_files(corpus_dir):
        raw = (corpus_dir / relative).read_bytes()
        try:
            body = neutralise_doctype(raw).body
        except EntityDeclarationRefused:
            tally["refused"] += 1
            continue
        pieces = split_entries(body)
        if pieces is None:
            tally["not cut"] += 1
            continue
        if len(pieces) < 2:
            tally["one entry"] += 1  # nothing to cut: the poller parses it whole when it changes
            continue
        whole = parse(body)
        if whole.error is not None or len(whole.entry_ids) != len(pieces):
            # The poller then remembers nothing for this feed and parses it whole every time.
            tally["not matched"] += 1
            continue
        # The poller parses only when at least one entry is new: keep one at least.
        dropped = {p.digest for p in pieces[1::2]}
        kept_ids = [
            i for p, i in zip(pieces, whole.entry_ids, strict=True) if p.digest not in dropped
        ]
        cut = parse(without(body, pieces, dropped))
        assert cut.error is None, relative
        assert list(cut.entry_ids) == kept_ids, relative
        by_id = {a.id: a.model_dump() for a in whole.articles}
        for article in cut.articles:
            assert article.model_dump() == by_id[article.id], relative
        assert cut.feed_title == whole.feed_title, relative
        tally["cut"] += 1
    print(dict(tally))
    # Most corpus files hold one entry (nothing to cut); 43 hold several and are all checked.
    assert tally["cut"] >= 40, tally
    assert tally["refused"] <= 1 and tally["not matched"] <= tally["cut"] // 20, tally
