"""From a parsed feed entry to an :class:`ArticleV1`: canonical link, plain text, stable id.

Pure functions; ``now`` is passed in. The id decides what counts as "the same article":

1. the canonical link (tracking parameters and fragment removed, host lower-cased), so a changed
   GUID with the same link, or two feeds syndicating one story, give one id;
2. else the GUID, scoped by feed URL (GUIDs such as "1" are only unique within a feed);
3. else a hash of the normalised title and text.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from streams.records import ArticleV1

# Parameters that identify the click, not the document.
_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_hsenc",
        "_hsmi",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "rb_clickid",
        "s_cid",
        "ncid",
        "cmpid",
        "ocid",
        "sr_share",
        "__twitter_impression",
    }
)
_TRACKING_PREFIXES = ("utm_", "ga_", "pk_", "mtm_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}

TITLE_MAX = 1_000
SUMMARY_MAX = 20_000
CONTENT_MAX = 200_000
# Earlier than this is a placeholder (1970) rather than a news date.
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def canonical_link(url: str | None) -> str:
    """The link without tracking parameters or fragment; "" when it is not an http(s) URL."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_EXACT and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


_SPACE = re.compile(r"\s+")
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064]")


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; script/style bodies are dropped."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        # Tags separate words ("<p>a</p><p>b</p>" is "a b"); spaces are collapsed afterwards.
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(markup: str | None, limit: int | None = None) -> str:
    """Text of an HTML fragment: tags, scripts and styles dropped, entities decoded, one line."""
    if not markup:
        return ""
    text = markup
    if "<" in text or "&" in text:
        extractor = _TextExtractor()
        extractor.feed(text)
        extractor.close()
        text = "".join(extractor.parts)
    text = _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def plausible_date(parsed: time.struct_time | None, now: datetime) -> datetime | None:
    """A feedparser date (UTC struct_time) as an aware UTC datetime, or None if implausible."""
    if parsed is None:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None
    if when < EARLIEST_PLAUSIBLE or when > now + FUTURE_SLACK:
        return None
    return when


def _digest(kind: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()[:32]


def article_id(link: str, guid: str, feed_url: str, title: str, text: str) -> str:
    """The stable id: canonical link, else feed-scoped GUID, else a content hash."""
    if link:
        return _digest("link", link)
    if guid:
        return _digest("guid", feed_url, guid)
    normalised = _SPACE.sub(" ", f"{title}\x1f{text}".lower()).strip()
    return _digest("text", normalised)


def _first_content(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    values = [c.get("value", "") for c in contents if isinstance(c, Mapping)]
    return max(values, key=len, default="")


def build_article(
    entry: dict[str, Any],
    *,
    feed_url: str,
    source: str,
    tags: Iterable[str],
    fetched_at: datetime,
) -> ArticleV1 | None:
    """The article of one entry, or None when the entry carries nothing usable at all."""
    guid = str(entry.get("id") or entry.get("guid") or "").strip()[:2000]
    link = canonical_link(entry.get("link"))
    if not link and guid.lower().startswith(("http://", "https://")):
        link = canonical_link(guid)
    title = plain_text(entry.get("title"), TITLE_MAX)
    summary = plain_text(entry.get("summary"), SUMMARY_MAX)
    content = plain_text(_first_content(entry), CONTENT_MAX)
    if not (link or guid or title or summary or content):
        return None
    # dict.get: feedparser's own mapping of updated->published warns on every access.
    published = plausible_date(
        dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"), fetched_at
    )
    return ArticleV1(
        id=article_id(link, guid, feed_url, title, summary or content),
        link=link,
        title=title,
        summary=summary,
        content=content,
        published=published,
        feed_url=feed_url,
        source=source,
        guid=guid,
        fetched_at=fetched_at,
        tags=tuple(tags),
    )
