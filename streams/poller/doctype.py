"""Removing a feed's DOCTYPE internal subset before any parser sees it.

An internal subset (``<!DOCTYPE rss [ ... ]>``) is where entities are declared: billion laughs
(nested entities), quadratic blowup (one large entity referenced thousands of times) and XXE
(``<!ENTITY x SYSTEM "file:///etc/passwd">``). feedparser 6 strips entity declarations itself,
but nothing pins that across versions and its two parser paths (strict SAX, loose fallback), so
the subset is cut here first: whatever the parser, there is nothing left to expand. References
to the removed entities stay as literal text (or make the strict parse fail, and the loose
parser keeps them literal). The public part of a DOCTYPE (``<!DOCTYPE rss PUBLIC "..." "...">``)
is kept: feedparser reads it to tell Netscape RSS 0.91 apart.

A body in a wide encoding (UTF-16/32) is not rewritten: if it declares entities it is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOCTYPE = re.compile(rb"<!DOCTYPE\b", re.IGNORECASE)
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class EntityDeclarationRefused(ValueError):
    """The body declares entities in a form that cannot be neutralised safely."""


@dataclass(frozen=True)
class Neutralised:
    """The body to parse, and whether an internal subset was removed."""

    body: bytes
    removed: bool


def _is_wide(body: bytes) -> bool:
    head = body[:4]
    return head.startswith(_WIDE_BOMS) or b"\x00" in head


def _subset_end(body: bytes, start: int) -> int | None:
    """Index just past the ``]`` closing the internal subset opened at ``start`` (at ``[``).

    Quoted literals and comments may hold ``]`` or ``>``; they are skipped.
    """
    i = start + 1
    size = len(body)
    while i < size:
        byte = body[i : i + 1]
        if byte in (b'"', b"'"):
            close = body.find(byte, i + 1)
            if close < 0:
                return None
            i = close + 1
        elif body.startswith(b"<!--", i):
            close = body.find(b"-->", i + 4)
            if close < 0:
                return None
            i = close + 3
        elif byte == b"]":
            return i + 1
        else:
            i += 1
    return None


def neutralise_doctype(body: bytes) -> Neutralised:
    """``body`` with its DOCTYPE internal subset removed (unchanged when there is none).

    Raises :class:`EntityDeclarationRefused` for a subset that does not end, or for entity
    declarations in a wide encoding.
    """
    if _is_wide(body):
        for codec in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                text = body[: 1 << 20].decode(codec, errors="ignore")
            except UnicodeError:
                continue
            if "<!ENTITY" in text.upper():
                msg = "entity declarations in a UTF-16/32 body: refused"
                raise EntityDeclarationRefused(msg)
        return Neutralised(body, removed=False)
    removed = False
    position = 0
    # Only the prolog (before the first element) can hold a DOCTYPE: "<!DOCTYPE" inside the
    # document (in CDATA, say) is text. Comments, processing instructions and stray text before
    # the root are skipped; every DOCTYPE found there is cut (a loose parser accepts two).
    while (start := body.find(b"<", position)) >= 0:
        if body.startswith(b"<!--", start):
            end = body.find(b"-->", start + 4)
            position = end + 3
        elif body.startswith(b"<?", start):
            end = body.find(b"?>", start + 2)
            position = end + 2
        elif _DOCTYPE.match(body, start):
            body, position, cut = _cut_subset(body, start + len(b"<!DOCTYPE"))
            removed = removed or cut
            continue
        else:
            break
        if end < 0:
            break
    return Neutralised(body, removed=removed)


def _cut_subset(body: bytes, i: int) -> tuple[bytes, int, bool]:
    """Remove the internal subset of the DOCTYPE whose keyword ends at ``i``, if it has one."""
    # Up to the subset's "[" or the DOCTYPE's ">", outside quoted public/system ids.
    while i < len(body):
        byte = body[i : i + 1]
        if byte in (b'"', b"'"):
            close = body.find(byte, i + 1)
            if close < 0:
                break
            i = close + 1
            continue
        if byte == b">":
            return body, i + 1, False
        if byte == b"[":
            end = _subset_end(body, i)
            if end is None:
                msg = "a DOCTYPE internal subset that never ends: refused"
                raise EntityDeclarationRefused(msg)
            return body[:i] + body[end:], i, True
        i += 1
    msg = "a DOCTYPE that never ends: refused"
    raise EntityDeclarationRefused(msg)
