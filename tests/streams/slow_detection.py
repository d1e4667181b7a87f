"""Stand-in detection functions for the pool's deadline tests (imported by spawned processes).

They replace only the spaCy call; the pool, its processes, deadlines and pool replacement are
the real ones.
"""

from __future__ import annotations

import time
from typing import Any


def init_nothing(model_name: str) -> None:
    """No model: these tests exercise the pool, not spaCy."""


def detect_slowly_on_demand(
    watchlist_yaml: str, source: str, articles: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Busy-loop 'forever' on an article titled PATHOLOGICAL; fail on one titled CRASH."""
    results = []
    for article in articles:
        if article["title"] == "PATHOLOGICAL":
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                pass
        if article["title"] == "CRASH":
            results.append({"error": "ValueError: cannot detect this"})
            continue
        results.append({"article_id": article["id"], "matches": [], "entities": []})
    return results
