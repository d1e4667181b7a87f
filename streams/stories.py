"""Story identity: recognise the same story told by several outlets as one story.

Two copies are one story when they share a canonical link, or when the MinHash estimate of the
Jaccard similarity of their title-and-lead word shingles reaches a threshold, within a time window.
Pure code (no Kafka): the alert agent keeps one :class:`StoryIndex` per watched topic and persists
its entries in a changelog-backed table, so the index can be rebuilt after a restart.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import unicodedata
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

_NUM_PERM = 64
_PROTOTYPE = MinHash(num_perm=_NUM_PERM, seed=1)
_HASH_DTYPE, _SCHEME = _PROTOTYPE.hashvalues.dtype, _PROTOTYPE.scheme
# Chance that the index misses a copy whose similarity sits exactly at the threshold.
_MISS_AT_THRESHOLD = 1e-3
_WORD = re.compile(r"\w+", re.UNICODE)
# Leads are compared on their first words only: syndicated copies differ in their endings
# (bylines, "read more", outlet boilerplate) far more than in their openings.
_LEAD_WORDS = 60
_MIN_LEAD_SHINGLES = 15


def _shingles(text: str, size: int = 2) -> set[bytes]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())[:_LEAD_WORDS]
    if len(words) < size:
        return {w.encode() for w in words}
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def fingerprint(title: str, lead: str) -> tuple[int, ...]:
    """The MinHash signature of a story (JSON-safe plain ints).

    Built from the lead alone when it is long enough: outlets rewrite headlines freely but
    syndicate the lead nearly verbatim. A short or missing lead falls back to title and lead.
    """
    lead_shingles = _shingles(lead)
    shingles = (
        lead_shingles if len(lead_shingles) >= _MIN_LEAD_SHINGLES else _shingles(f"{title} {lead}")
    )
    # The prototype's permutations: generating them again costs more than hashing a lead.
    signature = MinHash(
        num_perm=_NUM_PERM, seed=1, permutations=_PROTOTYPE.permutations, scheme=_SCHEME
    )
    signature.update_batch(sorted(shingles))
    return tuple(int(v) for v in signature.hashvalues)


def _minhash(signature: tuple[int, ...]) -> LeanMinHash:
    return LeanMinHash(seed=1, hashvalues=np.asarray(signature, dtype=_HASH_DTYPE), scheme=_SCHEME)


def similarity(left: tuple[int, ...], right: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of two fingerprints."""
    if not left or len(left) != len(right):
        return 0.0
    return sum(a == b for a, b in zip(left, right, strict=True)) / len(left)


def story_id_for(link: str, title: str) -> str:
    """A new story's id, derived from its first copy so that a replay derives the same id."""
    digest = hashlib.sha256(f"{link}\n{title}".encode()).hexdigest()[:16]
    return f"story-{digest}"


@dataclass(frozen=True)
class StoryEntry:
    """One known story: its id, links seen, fingerprint and when it was last seen."""

    story_id: str
    links: tuple[str, ...]
    fingerprint: tuple[int, ...]
    last_seen: datetime

    def to_dict(self) -> dict[str, object]:
        """Plain data for a table value."""
        return {
            "story_id": self.story_id,
            "links": list(self.links),
            "fingerprint": list(self.fingerprint),
            "last_seen": self.last_seen.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> StoryEntry:
        """Inverse of :meth:`to_dict`."""
        links = data["links"]
        prints = data["fingerprint"]
        assert isinstance(links, list) and isinstance(prints, list)
        return cls(
            story_id=str(data["story_id"]),
            links=tuple(str(link) for link in links),
            fingerprint=tuple(int(v) for v in prints),
            last_seen=datetime.fromisoformat(str(data["last_seen"])),
        )


def candidate_bands(threshold: float, num_perm: int = _NUM_PERM) -> tuple[int, int]:
    """LSH bands ``(b, r)`` that almost never miss a pair at ``threshold``.

    Two fingerprints become candidates when all ``r`` values of one of ``b`` bands agree. The
    widest bands (fewest false candidates) are chosen whose chance of missing a pair that sits
    exactly at the threshold, ``(1 - threshold**r) ** b``, stays under 1 in 1,000; every candidate
    is then checked with :func:`similarity`, so the index decides as the full scan did.
    """
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if bands >= 2 and (1 - threshold**rows) ** bands <= _MISS_AT_THRESHOLD:
            return bands, rows
    return num_perm, 1


class StoryEntries(MutableMapping[str, StoryEntry]):
    """Story id to entry, kept indexed by link, by fingerprint (MinHash LSH) and by age.

    A plain mapping on the outside (the alert agent fills it from its table), so every way in
    keeps the three indexes in step.
    """

    def __init__(self, threshold: float) -> None:
        self._entries: dict[str, StoryEntry] = {}
        self._by_link: dict[str, str] = {}
        self._lsh = MinHashLSH(num_perm=_NUM_PERM, params=candidate_bands(threshold))
        # (last_seen, story_id), stale pairs skipped when they surface: updates stay O(log n).
        self._by_age: list[tuple[datetime, str]] = []

    def __getitem__(self, story_id: str) -> StoryEntry:
        return self._entries[story_id]

    def __setitem__(self, story_id: str, entry: StoryEntry) -> None:
        old = self._entries.get(story_id)
        if old is not None:
            self._unlink(old)
        if old is None or old.fingerprint != entry.fingerprint:
            if old is not None:
                self._lsh.remove(story_id)
            self._lsh.insert(story_id, _minhash(entry.fingerprint), check_duplication=False)
        self._entries[story_id] = entry
        for link in entry.links:
            self._by_link[link] = story_id
        heapq.heappush(self._by_age, (entry.last_seen, story_id))
        if len(self._by_age) > 2 * len(self._entries) + 64:
            self._by_age = [(e.last_seen, sid) for sid, e in self._entries.items()]
            heapq.heapify(self._by_age)

    def __delitem__(self, story_id: str) -> None:
        entry = self._entries.pop(story_id)
        self._unlink(entry)
        self._lsh.remove(story_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _unlink(self, entry: StoryEntry) -> None:
        for link in entry.links:
            if self._by_link.get(link) == entry.story_id:
                del self._by_link[link]

    def with_link(self, link: str) -> StoryEntry | None:
        """The story that already has this link, if any."""
        story_id = self._by_link.get(link)
        return None if story_id is None else self._entries[story_id]

    def similar_to(self, signature: tuple[int, ...], threshold: float) -> StoryEntry | None:
        """The most similar story at or above ``threshold`` (ties: the latest seen)."""
        best, best_key = None, (threshold, datetime.min.replace(tzinfo=UTC), "")
        for story_id in self._lsh.query(_minhash(signature)):
            entry = self._entries[story_id]
            key = (similarity(signature, entry.fingerprint), entry.last_seen, story_id)
            if key >= best_key:
                best, best_key = entry, key
        return best

    def oldest(self) -> StoryEntry | None:
        """The least recently seen story."""
        while self._by_age:
            last_seen, story_id = self._by_age[0]
            entry = self._entries.get(story_id)
            if entry is not None and entry.last_seen == last_seen:
                return entry
            heapq.heappop(self._by_age)  # deleted or seen again since
        return None


@dataclass
class StoryIndex:
    """Known stories of one topic within a time window; answers "which story is this copy of?".

    Lookups go through indexes (link map, MinHash LSH, age heap), not a scan of every story, so
    an assignment costs about the same with 200,000 open stories as with 5,000.
    """

    window: timedelta
    threshold: float
    max_entries: int = 50_000
    entries: StoryEntries = field(init=False)

    def __post_init__(self) -> None:
        self.entries = StoryEntries(self.threshold)

    def assign(self, link: str, title: str, lead: str, now: datetime) -> tuple[StoryEntry, bool]:
        """Return the story this copy belongs to (updated) and whether the story is new."""
        self._expire(now)
        signature = fingerprint(title, lead)
        found = self._find(link, signature)
        if found is None:
            entry = StoryEntry(story_id_for(link, title), (link,) if link else (), signature, now)
            is_new = True
        else:
            links = found.links if not link or link in found.links else (*found.links, link)
            entry = StoryEntry(found.story_id, links[-20:], found.fingerprint, now)
            is_new = False
        self.entries[entry.story_id] = entry
        return entry, is_new

    def _find(self, link: str, signature: tuple[int, ...]) -> StoryEntry | None:
        found = self.entries.with_link(link) if link else None
        return found or self.entries.similar_to(signature, self.threshold)

    def _expire(self, now: datetime) -> None:
        cutoff = now - self.window
        oldest = self.entries.oldest()
        # Oldest first; the size bound matters more than remembering week-old stories.
        while oldest is not None and (
            oldest.last_seen < cutoff or len(self.entries) >= self.max_entries
        ):
            del self.entries[oldest.story_id]
            oldest = self.entries.oldest()
