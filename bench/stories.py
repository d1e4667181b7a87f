"""Story matching benchmark: the full scan it replaced vs the MinHash LSH index.

Run on demand (not in CI): ``.venv/bin/python bench/stories.py [--sizes 5000 200000]``.

For each size it fills a story index with that many synthetic stories (see ``Leads``), then
times lookups of
copies of known stories and of new stories: with the index (``StoryIndex._find``) and with the
full scan over every fingerprint that ``streams/stories.py`` used before. Prints lookups/second.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from streams.stories import StoryEntry, StoryIndex, similarity  # noqa: E402

THRESHOLD = 0.5
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SHINGLES = 200_000  # distinct lead shingles in play
SHINGLES_PER_LEAD = 44


class Leads:
    """Synthetic leads as sets of shingle ids, fingerprinted the way MinHash does it.

    ``fingerprint()`` hashes text at about a millisecond a lead, too slow to fill 200,000
    stories: here each shingle id has 64 random hash values and a lead's signature is their
    column-wise minimum, which is what a MinHash of the set is. Shingles are drawn with a skew,
    so unrelated leads share common ones as news leads share common word pairs.
    """

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._hashes = self._rng.integers(0, 2**32 - 1, (SHINGLES, 64), dtype=np.uint32)
        # The offset of 100 calibrates the skew: about 0.1% of unrelated leads become LSH
        # candidates, as among the 1,810 real leads of ../shared/corpus (0.12%, measured).
        weights = 1 / np.arange(100, SHINGLES + 100)
        self._weights = weights / weights.sum()

    def new(self, count: int) -> np.ndarray:
        return self._rng.choice(SHINGLES, size=(count, SHINGLES_PER_LEAD), p=self._weights)

    def rewrite(self, lead: np.ndarray, shingles: int) -> np.ndarray:
        copy = lead.copy()
        positions = self._rng.choice(len(copy), size=shingles, replace=False)
        copy[positions] = self._rng.integers(0, SHINGLES, size=shingles)
        return copy

    def signature(self, lead: np.ndarray) -> tuple[int, ...]:
        return tuple(int(v) for v in self._hashes[lead].min(axis=0))


def full_scan(entries: list[StoryEntry], signature: tuple[int, ...]) -> StoryEntry | None:
    """The lookup the index replaced (link map aside): every fingerprint, one by one."""
    best, best_score = None, THRESHOLD
    for entry in entries:
        score = similarity(signature, entry.fingerprint)
        if score >= best_score:
            best, best_score = entry, score
    return best


def rate(lookup: object, signatures: list[tuple[int, ...]], budget_s: float) -> float:
    """Lookups per second over ``signatures`` (stopping after ``budget_s``)."""
    assert callable(lookup)
    started, done = time.perf_counter(), 0
    for signature in signatures:
        lookup(signature)
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 200_000])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    leads = Leads(seed=1)
    for size in args.sizes:
        index = StoryIndex(window=timedelta(days=365), threshold=THRESHOLD, max_entries=size + 1)
        known = leads.new(size)
        started = time.perf_counter()
        for n, lead in enumerate(known):
            index.entries[f"s{n}"] = StoryEntry(f"s{n}", (), leads.signature(lead), NOW)
        filled_s = time.perf_counter() - started
        entries = list(index.entries.values())
        picks = np.random.default_rng(size).integers(0, size, args.queries)
        # A copy rewrites 8 of 44 shingles: estimated similarity about 0.7, above the threshold.
        copies = [leads.signature(leads.rewrite(known[n], 8)) for n in picks]
        fresh = [leads.signature(lead) for lead in leads.new(args.queries)]
        found = sum(index._find("", s) is not None for s in copies)
        stray = sum(index._find("", s) is not None for s in fresh)
        print(
            f"{size:>7} stories (indexed in {filled_s:.0f} s; copies found {found}/{len(copies)}, "
            f"new stories matched to an old one {stray}/{len(fresh)})"
        )
        for label, signatures in (("copy of a known story", copies), ("new story", fresh)):
            indexed = rate(partial(index._find, ""), signatures, budget_s=10)
            scanned = rate(partial(full_scan, entries), signatures, budget_s=10)
            print(
                f"  {label:<22} index {indexed:>9,.0f}/s   full scan {scanned:>9,.1f}/s   "
                f"x{indexed / scanned:,.0f}"
            )


if __name__ == "__main__":
    main()
