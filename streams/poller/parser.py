"""Parsing a fetched body with feedparser, off the event loop, into articles.

feedparser gets bytes (in a ``BytesIO``, never a str that it could take for a file name or URL)
and the response headers (charset, base URI, language). ``run_parse_job`` is a plain top-level
function over picklable data: it runs in the parse workers (:mod:`streams.poller.parse_pool`).

"bozo" with entries is a warning; "bozo" with no entries is that feed's error. A DOCTYPE
internal subset (where entities are declared) is removed before feedparser sees the body
(:mod:`streams.poller.doctype`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import feedparser

from streams.poller.articles import build_article, plain_text
from streams.poller.doctype import EntityDeclarationRefused, neutralise_doctype
from streams.records import ArticleV1


@dataclass(frozen=True)
class ParseJob:
    """Everything needed to turn one body into articles."""

    body: bytes
    headers: dict[str, str]
    url: str
    feed_url: str
    name: str
    tags: tuple[str, ...]
    fetched_at: datetime


@dataclass(frozen=True)
class ParseOutcome:
    """What a body held: articles, and a warning or an error for the feed's health.

    ``entry_ids`` has one item per entry feedparser found, in document order: the entry's article
    id, or "" for an entry that gave no article (what lets the poller skip those bytes later).
    ``error_kind`` is the word the feed's health and metrics count the error under.
    """

    articles: tuple[ArticleV1, ...] = ()
    entries: int = 0
    warning: str | None = None
    error: str | None = None
    error_kind: str = "malformed"
    ttl_minutes: float | None = None
    feed_title: str = ""
    skipped: int = field(default=0)
    entry_ids: tuple[str, ...] = ()


def _describe(exc: object) -> str:
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)


def run_parse_job(job: ParseJob) -> ParseOutcome:
    """Parse ``job.body`` and build its articles; never raises for a bad feed."""
    headers = {k.lower(): v for k, v in job.headers.items()}
    # feedparser resolves relative links against Content-Location; default it to where we were.
    headers.setdefault("content-location", job.url)
    try:
        body = neutralise_doctype(job.body).body
    except EntityDeclarationRefused as exc:
        return ParseOutcome(error=str(exc), error_kind="entities")
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            # The HTML is reduced to plain text here anyway (scripts and styles dropped), so
            # feedparser's sanitizer and link rewriting inside it are work for nothing.
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser's own bugs must stay this feed's problem
        return ParseOutcome(error=f"parser failure: {_describe(exc)}")
    entries = list(parsed.get("entries") or [])
    problem = _describe(parsed.get("bozo_exception", "not well-formed")) if parsed.bozo else None
    if not entries and (problem or not parsed.get("version")):
        # Nothing read and nothing recognised as a feed: this feed's error, never the poller's.
        return ParseOutcome(error=f"not a readable feed: {problem or 'unknown format'}")
    feed_info = parsed.get("feed") or {}
    feed_title = plain_text(feed_info.get("title"), 200)
    source = job.name or feed_title or (urlsplit(job.feed_url).hostname or job.feed_url)
    ttl: float | None = None
    try:
        ttl = float(str(feed_info.get("ttl") or "").strip() or "nan")
    except ValueError:
        ttl = None
    if ttl is not None and not 0 < ttl < 100_000:
        ttl = None
    articles: dict[str, ArticleV1] = {}
    entry_ids: list[str] = []
    skipped = 0
    for entry in entries:
        try:
            article = build_article(
                entry,
                feed_url=job.feed_url,
                source=source,
                tags=job.tags,
                fetched_at=job.fetched_at,
            )
        except Exception:  # one odd entry must not cost the feed its other entries
            article = None
        entry_ids.append(article.id if article is not None else "")
        if article is None:
            skipped += 1
            continue
        # The same id twice in one feed (a repeated item): keep the first.
        articles.setdefault(article.id, article)
    return ParseOutcome(
        articles=tuple(articles.values()),
        entries=len(entries),
        warning=problem,
        ttl_minutes=ttl,
        feed_title=feed_title,
        skipped=skipped,
        entry_ids=tuple(entry_ids),
    )
