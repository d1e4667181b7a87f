"""Parse only what can be new: a feed body cut into its entries' bytes, cheaply, without parsing.

A feed that changed usually gained one entry and kept the others byte for byte. The body is cut
at its ``<item>``/``<entry>`` elements with a regular expression (no XML parser); each entry's
bytes are hashed, and the entries whose hash was seen in this feed's previous body are removed
before the body goes to feedparser. What is left is still a whole document (prolog, channel or
feed element, every byte between entries), so feedparser reads the feed-level data and the new
entries exactly as before.

The cut is refused (None: parse the whole body) whenever it could be wrong: entries nested in
entries, a CDATA section or comment that opens in one piece and closes in another, an encoding
in which ``<`` is not always the byte 0x3C (UTF-16/32, ISO-2022, UTF-7), no entries found.
A hash is remembered only once the parser confirmed that the body's entries and the cut pieces
match one to one (:meth:`EntryMemory.remember`).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass

_OPEN = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?=[\s/>])")
_UNSAFE_ENCODINGS = re.compile(rb"iso-?2022|utf-?7|utf-?16|utf-?32|ucs-?[24]", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One entry's place in the body and the hash of its bytes."""

    start: int
    end: int
    digest: bytes


def _balanced(piece: bytes) -> bool:
    """Whether CDATA sections and comments open and close inside ``piece``."""
    return piece.count(b"<![CDATA[") == piece.count(b"]]>") and piece.count(b"<!--") == piece.count(
        b"-->"
    )


def split_entries(body: bytes, content_type: str = "") -> list[Entry] | None:
    """The entries of ``body`` in document order, or None when the cut is not safe."""
    head = body[:1024]
    if b"\x00" in head[:4] or b"\x1b" in body or _UNSAFE_ENCODINGS.search(head):
        return None
    if _UNSAFE_ENCODINGS.search(content_type.encode("latin-1", "replace")):
        return None
    entries: list[Entry] = []
    position = 0
    while (match := _OPEN.search(body, position)) is not None:
        tag = match.group(1)
        start = match.start()
        tag_end = body.find(b">", match.end())
        if tag_end < 0:
            return None
        if body[tag_end - 1 : tag_end] == b"/":
            end = tag_end + 1  # <item/>: an empty entry
        else:
            close = re.compile(rb"</" + re.escape(tag) + rb"\s*>").search(body, tag_end)
            if close is None:
                return None
            end = close.end()
        piece = body[start:end]
        if _OPEN.search(piece, match.end() - start) or not _balanced(piece):
            return None  # nested entries, or a section that spans pieces
        if not _balanced(body[position:start]):
            return None
        entries.append(Entry(start, end, hashlib.blake2b(piece, digest_size=16).digest()))
        position = end
    if not entries or not _balanced(body[position:]):
        return None
    return entries


def without(body: bytes, entries: list[Entry], dropped: set[bytes]) -> bytes:
    """``body`` with the entries whose digest is in ``dropped`` cut out."""
    parts = []
    position = 0
    for entry in entries:
        if entry.digest in dropped:
            parts.append(body[position : entry.start])
            position = entry.end
    parts.append(body[position:])
    return b"".join(parts)


class EntryMemory:
    """Per feed: the hashes of the entries of its last body, with the article id each gave.

    Bounded: at most ``max_per_feed`` entries per feed (a feed's entries are replaced, not
    added to, on every poll) and ``max_feeds`` feeds (least recently polled go first).
    """

    def __init__(self, max_per_feed: int = 2000, max_feeds: int = 100_000) -> None:
        self.max_per_feed = max_per_feed
        self.max_feeds = max_feeds
        self._feeds: OrderedDict[str, dict[bytes, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._feeds)

    def known(self, feed_url: str) -> dict[bytes, str]:
        """Digest -> article id ("" for an entry without article) of ``feed_url``'s last body."""
        return self._feeds.get(feed_url, {})

    def remember(self, feed_url: str, digests: dict[bytes, str]) -> None:
        """Replace what is known of ``feed_url`` (only confirmed, delivered entries)."""
        if len(digests) > self.max_per_feed:
            digests = dict(list(digests.items())[-self.max_per_feed :])
        self._feeds[feed_url] = digests
        self._feeds.move_to_end(feed_url)
        while len(self._feeds) > self.max_feeds:
            self._feeds.popitem(last=False)

    def forget(self, feed_url: str) -> None:
        """Drop what is known of ``feed_url`` (the next body is parsed whole)."""
        self._feeds.pop(feed_url, None)
