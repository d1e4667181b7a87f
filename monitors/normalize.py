"""Text normalisation shared by watch terms and article text.

The SAME function runs over every watch term and every article field, so that what an operator
writes and what a feed sends compare equal: HTML is reduced to text, Unicode is NFKC-normalised
(full-width letters, ligatures, compatibility forms), zero-width and bidirectional-control
characters are removed (a keyword split by U+200B still matches; an RTL override cannot disguise
one), control characters become spaces and runs of whitespace fold to one space. Very long text is
truncated before it reaches NLP (spaCy's memory grows with text length).
"""

from __future__ import annotations

import html
import re
import unicodedata

# Invisible characters that split or disguise words: zero-width space/joiners, word joiner, BOM,
# soft hyphen, Mongolian vowel separator, and every bidirectional control (marks, embeddings,
# overrides, isolates, the Arabic letter mark).
_INVISIBLE = (
    "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
)
_DELETE: dict[int, str | None] = {ord(ch): None for ch in _INVISIBLE}
# C0/C1 controls other than whitespace become spaces (a NUL must not glue two words together).
_DELETE.update({code: " " for code in range(32) if chr(code) not in "\t\n\r\f\v"})
_DELETE.update({code: " " for code in range(0x7F, 0xA0)})
_WHITESPACE = re.compile(r"\s+")
_LOOKS_LIKE_HTML = re.compile(r"<[A-Za-z!/]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "td",
        "th",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "hr",
        "dd",
        "dt",
    }
)

_SKIPPED = re.compile(
    r"<(script|style|template|noscript|head|svg|math)\b[^>]*>.*?(?:</\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)|<!\[CDATA\[|\]\]>", re.DOTALL)
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)\b[^>]{0,2000}>|<![^>]{0,2000}>")

#: Longest field text matched by the phrase pass (characters, after normalisation).
MAX_MATCH_CHARS = 100_000


def _tag_to_space(match: re.Match[str]) -> str:
    # Block-level tags separate words; inline tags (<b>, <a>) may sit inside one. A declaration
    # (<!DOCTYPE html>, or a "<!channel>" in a headline) has no tag name: it separates words.
    name = match.group(1)
    return " " if name is None or name.lower() in _BLOCK_TAGS else ""


def html_to_text(text: str) -> str:
    """The text of an HTML fragment (tags dropped, entities decoded); plain text passes through.

    Regular expressions rather than a parser: feed HTML is fragments, and this runs on every
    article (a parser was the largest cost of the cheap pass).
    """
    if not _LOOKS_LIKE_HTML.search(text):
        return text
    if "<" in text:
        text = _SKIPPED.sub(" ", text)
        text = _COMMENT.sub(" ", text)
        text = _TAG.sub(_tag_to_space, text)
    return html.unescape(text)


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at a word boundary when one is near."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ", max(0, max_chars - 200))
    return cut[:space] if space > 0 else cut


def normalize_text(text: str, *, max_chars: int | None = None, strip_html: bool = True) -> str:
    """Normalise text for matching: HTML to text, NFKC, invisibles removed, whitespace folded.

    ``max_chars`` bounds the work: the raw input is cut (generously) before the costly steps and
    the result is truncated to ``max_chars``, so a 2 MB article costs about as much as a long one.
    """
    if not text:
        return ""
    if max_chars is not None and len(text) > 4 * max_chars + 10_000:
        # Markup and whitespace shrink the text; keep enough raw input to fill max_chars.
        text = text[: 4 * max_chars + 10_000]
    if strip_html:
        text = html_to_text(text)
    text = unicodedata.normalize("NFKC", text).translate(_DELETE)
    text = _WHITESPACE.sub(" ", text).strip()
    if max_chars is not None:
        text = truncate(text, max_chars)
    return text
