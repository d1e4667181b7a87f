"""Near-miss records read back for operators: decoded, deduplicated, shaped for labeling.

The detection agent publishes one ``near-misses.v1`` record per article that almost matched a
topic; processing is at-least-once and a watchlist change re-detects, so one article can appear
more than once. Operators see each article once, as detected most recently.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from streams.records import ArticleV1, NearMissV1


@dataclass
class NearMissBatch:
    """The near misses read from a slice of the topic, one per article, oldest first."""

    records: list[NearMissV1] = field(default_factory=list)
    invalid: int = 0  # values that are not near-misses.v1 records


def collect(values: Iterable[bytes], topics: Collection[str] = ()) -> NearMissBatch:
    """Decode ``values``; keep the latest record per article, only ``topics`` when given."""
    latest: dict[str, NearMissV1] = {}
    invalid = 0
    for value in values:
        try:
            record = NearMissV1.from_json(value)
        except (ValidationError, ValueError):
            invalid += 1
            continue
        if topics:
            kept = tuple(n for n in record.near_misses if n.topic in topics)
            if not kept:
                continue
            record = record.model_copy(update={"near_misses": kept})
        known = latest.get(record.article_id)
        if known is None or record.detected_at >= known.detected_at:
            latest[record.article_id] = record
    ordered = sorted(latest.values(), key=lambda r: (r.detected_at, r.article_id))
    return NearMissBatch(ordered, invalid)


def eval_article(record: ArticleV1 | NearMissV1) -> dict[str, Any]:
    """An article (or a near miss's copy of one) as ``watchlist eval --articles`` reads it."""
    return {
        "id": record.id if isinstance(record, ArticleV1) else record.article_id,
        "title": record.title,
        "summary": record.summary,
        "content": record.content,
        "link": record.link,
        "source": record.source,
        "published": record.published.isoformat() if record.published else None,
    }


def article_line(record: NearMissV1) -> dict[str, Any]:
    """The near miss's article as ``watchlist eval --articles`` reads it, with its near misses."""
    line = eval_article(record)
    line["near_misses"] = [n.model_dump(mode="json") for n in record.near_misses]
    return line


def label_template(record: NearMissV1) -> dict[str, Any]:
    """A labels line to fill in: empty ``judgments``, the candidate topics and why, the title.

    An unfilled line judges nothing, so a half-labeled file can already be evaluated.
    """
    return {
        "id": record.article_id,
        "judgments": {},
        "candidates": {n.topic: f"{n.reason}: {n.detail}" for n in record.near_misses},
        "title": record.title,
    }
