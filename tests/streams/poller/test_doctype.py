"""DOCTYPE internal subsets are cut before any parser sees a body (RELIABILITY 5 and 45)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.poller.doctype import EntityDeclarationRefused, neutralise_doctype
from streams.poller.parser import ParseJob, run_parse_job


def billion_laughs(well_formed: bool = True) -> bytes:
    """Ten levels of ten references: 10**9 "lol"s if expanded."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    stray = "" if well_formed else "<b>unclosed & stray"
    return (
        "<?xml version='1.0'?><!DOCTYPE rss [" + "".join(levels) + "]>"
        "<rss version='2.0'><channel><title>laughs</title>"
        f"<item><title>&lol9;</title><link>https://laughs.example/1</link>{stray}</item>"
        "</channel></rss>"
    ).encode()


def quadratic_blowup(well_formed: bool = True) -> bytes:
    """One 100 KB entity referenced 3,000 times: 300 MB if expanded."""
    refs = "&big;" * 3000
    stray = "" if well_formed else "<b>unclosed & stray"
    return (
        "<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY big \"" + "x" * 100_000 + '">]>'
        "<rss version='2.0'><channel><title>blowup</title>"
        f"<item><title>t</title><description>{refs}</description>"
        f"<link>https://blowup.example/1</link>{stray}</item></channel></rss>"
    ).encode()


XXE = (
    b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>"
    b"<!ENTITY % remote SYSTEM 'http://127.0.0.1:9/evil.dtd'> %remote;]>"
    b"<rss version='2.0'><channel><title>x</title><item><title>&xxe;</title>"
    b"<link>https://xxe.example/1</link></item></channel></rss>"
)


def parse(body: bytes) -> tuple[str, ...]:
    outcome = run_parse_job(
        ParseJob(
            body,
            {"content-type": "application/rss+xml"},
            "https://f/",
            "https://f/",
            "",
            (),
            datetime(2026, 11, 27, tzinfo=UTC),
        )
    )
    assert outcome.error is None, outcome.error
    return tuple(a.title + a.summary for a in outcome.articles)


@pytest.mark.parametrize(
    "body",
    [billion_laughs(), billion_laughs(False), quadratic_blowup(), quadratic_blowup(False), XXE],
    ids=["laughs-strict", "laughs-loose", "blowup-strict", "blowup-loose", "xxe"],
)
def test_internal_subset_removed_and_nothing_expanded(body: bytes) -> None:
    result = neutralise_doctype(body)
    assert result.removed
    assert b"<!ENTITY" not in result.body
    assert b"<!DOCTYPE rss >" in result.body
    # Both parser paths (the well-formed body takes the strict one, the other the loose one).
    texts = parse(body)
    assert texts and all(len(t) < 20_000 for t in texts)
    assert all("root:" not in t for t in texts)


def test_public_doctype_kept_and_brackets_in_literals_skipped() -> None:
    netscape = (
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"></rss>'
    )
    assert neutralise_doctype(netscape) == (neutralise_doctype(netscape).__class__(netscape, False))
    tricky = b"<!DOCTYPE rss [<!ENTITY a \"]>\"><!-- ]> --><!ENTITY b 'x'>]><rss>&a;</rss>"
    assert neutralise_doctype(tricky).body == b"<!DOCTYPE rss ><rss>&a;</rss>"
    # A second DOCTYPE (not valid XML, but a loose parser reads on): cut as well.
    twice = b"<!DOCTYPE a [<!ENTITY x 'y'>]><!DOCTYPE b [<!ENTITY z 'w'>]><rss/>"
    assert neutralise_doctype(twice).body == b"<!DOCTYPE a ><!DOCTYPE b ><rss/>"


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE rss [<!ENTITY a 'never closed'",
        b"<!DOCTYPE rss PUBLIC 'x",
        "<?xml version='1.0' encoding='utf-16'?><!DOCTYPE rss [<!ENTITY a 'b'>]><rss/>".encode(
            "utf-16"
        ),
    ],
    ids=["open-subset", "open-doctype", "utf-16-entities"],
)
def test_what_cannot_be_cut_is_refused(body: bytes) -> None:
    with pytest.raises(EntityDeclarationRefused):
        neutralise_doctype(body)
    outcome = run_parse_job(
        ParseJob(body, {}, "https://f/", "https://f/", "", (), datetime.now(UTC))
    )
    assert outcome.error_kind == "entities" and outcome.error


def test_doctype_text_inside_the_document_is_left_alone() -> None:
    body = (
        b"<!-- a comment <with> markup -->\n<?xml-stylesheet href='x'?>\n"
        b"<rss><item><description><![CDATA[ <!DOCTYPE x [ ]]></description></item></rss>"
    )
    assert neutralise_doctype(body) == neutralise_doctype(body).__class__(body, False)


def test_plain_feeds_untouched() -> None:
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
    assert neutralise_doctype(body).body is body
    wide = "<?xml version='1.0' encoding='utf-16'?><rss/>".encode("utf-16")
    assert neutralise_doctype(wide).body is wide
