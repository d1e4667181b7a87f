"""Making feed text safe and readable inside Slack mrkdwn (pure functions).

Feed text is hostile until proven otherwise: a headline can carry ``<!channel>``, a user mention,
a link whose label lies about its target, stray formatting characters or leftover HTML. Every
piece of feed text reaches a message through :func:`mrkdwn_text` (or :func:`plain_text` for
``plain_text`` objects), which

1. strips HTML (script/style bodies, comments, tags) and decodes entities,
2. removes control and bidirectional-override characters and collapses whitespace to one line,
3. replaces the mrkdwn control characters ``*``, ``_``, ``~`` and backtick with look-alikes that
   Slack does not interpret (Slack has no backslash escape; a look-alike reads the same),
4. escapes ``&``, ``<`` and ``>`` (:func:`escape`), so no mention, channel ping or link can fire.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

ELLIPSIS = "…"

# Bounded quantifiers and a bounded input keep hostile text (thousands of unclosed "<script")
# from making these expressions quadratic.
MAX_INPUT = 20_000
_SCRIPT_OR_STYLE = re.compile(
    r"<(script|style)\b[^<>]{0,2000}>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL
)
_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
# Real tags only: a letter right after "<" (or "</"), then attributes, no nested "<". This leaves
# Slack-looking text such as "<!channel>", "<@U123>" or "<https://x|y>" alone, to be escaped.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(\s[^<>]{0,2000})?/?>")
# C0/C1 controls, zero-width and bidirectional controls (RTL override can disguise text).
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)
_WHITESPACE = re.compile(r"\s+")
_LOOKALIKES = str.maketrans(
    {
        "*": "\u2217",  # ∗ ASTERISK OPERATOR
        "_": "\u02cd",  # ˍ MODIFIER LETTER LOW MACRON
        "~": "\u223c",  # ∼ TILDE OPERATOR
        "`": "\u02cb",  # ˋ MODIFIER LETTER GRAVE ACCENT
    }
)


def escape(text: str) -> str:
    """Slack's three escapes: ``&`` -> ``&amp;``, ``<`` -> ``&lt;``, ``>`` -> ``&gt;``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(text: str) -> str:
    """Feed text as one line of plain text: HTML stripped, invisible characters removed.

    Only the first :data:`MAX_INPUT` characters are considered: no part of an alert shows more.
    """
    if not text:
        return ""
    text = text[:MAX_INPUT]
    text = _SCRIPT_OR_STYLE.sub(" ", text)
    text = _COMMENT.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    # Entities may have decoded into new tags (text/plain content holding "&lt;script&gt;").
    text = _SCRIPT_OR_STYLE.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _INVISIBLE.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def neutralise(text: str) -> str:
    """Replace mrkdwn control characters with look-alikes Slack leaves alone."""
    return text.translate(_LOOKALIKES)


def mrkdwn_text(text: str) -> str:
    """Feed text made safe for a mrkdwn field: cleaned, neutralised, escaped."""
    return escape(neutralise(clean(text)))


def plain_text(text: str) -> str:
    """Feed text for a ``plain_text`` object (no markup is interpreted there; still cleaned)."""
    return clean(text)


def safe_url(url: str) -> str | None:
    """``url`` if it is an absolute http(s) link, made safe to put between ``<`` and ``|``.

    Anything else (``javascript:``, ``data:``, relative or malformed links) returns None and is
    never rendered as a link.
    """
    url = (url or "").strip()
    if not url or _INVISIBLE.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    # "<", ">" and "|" would end or split Slack's <url|label> syntax; "&" is escaped as Slack asks.
    return escape(quote(url, safe="/:?#[]@!$&'()+,;=%~-._"))


def url_host(url: str) -> str:
    """The host a link really goes to (shown next to the headline), or ``""``."""
    if safe_url(url) is None:
        return ""
    host = urlsplit(url.strip()).hostname or ""
    return host.removeprefix("www.")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, on a word boundary when one is near, + "…"."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space >= len(cut) * 0.8:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def cut_mrkdwn(text: str, limit: int) -> str:
    """A last-resort cut of already-rendered mrkdwn that never splits an entity or a ``<...>``."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ELLIPSIS))]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi:
        cut = cut[:amp]
    lt, gt = cut.rfind("<"), cut.rfind(">")
    if lt > gt:
        cut = cut[:lt]
    if cut.count("*") % 2:
        cut = cut[: cut.rfind("*")]
    return cut.rstrip() + ELLIPSIS
