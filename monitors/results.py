"""What detection returns: plain, frozen, picklable data with a JSON-ready ``to_dict``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a topic matched: the matched text, its field, character offsets and the rule."""

    text: str
    field: str
    start: int
    end: int
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "text": self.text,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity of the article (found by the NER, or a watched entity by its alias)."""

    text: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"text": self.text, "label": self.label}


@dataclass(frozen=True, slots=True)
class Match:
    """One topic an article is about, with the evidence and a snippet to explain it."""

    topic: str
    evidence: tuple[Evidence, ...]
    snippet: str
    watchlist_version: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "topic": self.topic,
            "evidence": [evidence.to_dict() for evidence in self.evidence],
            "snippet": self.snippet,
            "score": self.score,
            "watchlist_version": self.watchlist_version,
        }


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A topic the article almost matched: worth an operator's label."""

    topic: str
    reason: str  # "semantic" | "partial_rule"
    detail: str  # e.g. "similar to example 3 (0.52, threshold 0.58)" or
    # "rules[0].near: found pause, AI; missing development/training"
    score: float | None = None  # semantic similarity when the semantic stage ran
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "topic": self.topic,
            "reason": self.reason,
            "detail": self.detail,
            "score": self.score,
            "threshold": self.threshold,
        }


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Detection's answer for one article: its matches (maybe none), its entities, near misses."""

    article_id: str
    matches: tuple[Match, ...]
    entities: tuple[Entity, ...]
    near_misses: tuple[NearMiss, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"id", "matches", "entities", "near_misses"}``."""
        return {
            "id": self.article_id,
            "matches": [match.to_dict() for match in self.matches],
            "entities": [entity.to_dict() for entity in self.entities],
            "near_misses": [near.to_dict() for near in self.near_misses],
        }

    def topics(self) -> tuple[str, ...]:
        """The ids of the matched topics."""
        return tuple(match.topic for match in self.matches)
