"""Story identity: recognise the same story told by several outlets as one story.

Two copies are one story when they share a canonical link, or when the MinHash estimate of the
Jaccard similarity of their title-and-lead word shingles reaches a threshold, within a time window.
Pure code (no Kafka): the alert agent keeps one :class:`StoryIndex` per watched topic and persists
its entries in a changelog-backed table, so the index can be rebuilt after a restart.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from datasketch import MinHash

_NUM_PERM = 64
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
    signature = MinHash(num_perm=_NUM_PERM, seed=1)
    signature.update_batch(sorted(shingles))
    return tuple(int(v) for v in signature.hashvalues)


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


@dataclass
class StoryIndex:
    """Known stories of one topic within a time window; answers "which story is this copy of?"."""

    window: timedelta
    threshold: float
    max_entries: int = 5000
    entries: dict[str, StoryEntry] = field(default_factory=dict)

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
        if link:
            for entry in self.entries.values():
                if link in entry.links:
                    return entry
        best, best_score = None, self.threshold
        for entry in self.entries.values():
            score = similarity(signature, entry.fingerprint)
            if score >= best_score:
                best, best_score = entry, score
        return best

    def _expire(self, now: datetime) -> None:
        cutoff = now - self.window
        stale = [sid for sid, entry in self.entries.items() if entry.last_seen < cutoff]
        for story_id in stale:
            del self.entries[story_id]
        if len(self.entries) >= self.max_entries:
            # Oldest first: a bound on memory matters more than remembering week-old stories.
            by_age = sorted(self.entries.values(), key=lambda e: e.last_seen)
            for entry in by_age[: len(self.entries) - self.max_entries + 1]:
                del self.entries[entry.story_id]
