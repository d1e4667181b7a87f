"""The semantic stage: an article's title and lead compared, by meaning, with a topic's examples.

A topic with ``examples`` gets a second way to match besides its rules: its gate holds (one of
its gate terms or entities was found by the cheap pass), the cosine similarity of the article to
its closest example reaches the topic's threshold, and no counter-example is as close (within
``counter_margin``) as that example. Only articles that pass some topic's gate are embedded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitors.article import ArticleText
from monitors.compiled import CompiledTopic, CSemantic
from monitors.normalize import normalize_text

if TYPE_CHECKING:
    from monitors.embedding import Embedder

#: Characters of the lead (summary, else content) embedded after the title; the tokenizer
#: reads at most 128 tokens anyway.
LEAD_CHARS = 300


@dataclass(frozen=True, slots=True)
class SemanticScore:
    """One article against one topic's examples.

    ``example`` and ``counter_example`` count from 1 (``examples[example - 1]``), as alerts say
    "similar to example 3". ``vetoed``: a counter-example is at least as close as the best example
    (less ``counter_margin``). ``gated``: the topic's gate held, so detection would have embedded
    the article. ``rule_match``: the topic's rules matched on their own. ``excluded``: one of the
    topic's ``exclude`` blocks holds (it vetoes the semantic path as it vetoes the rules).
    """

    topic: str
    similarity: float
    example: int
    counter_similarity: float | None
    counter_example: int | None
    vetoed: bool
    gated: bool
    threshold: float
    margin: float
    rule_match: bool = False
    excluded: bool = False

    @property
    def passes(self) -> bool:
        """Whether the similarity alone would make a semantic match (gate aside)."""
        return self.similarity >= self.threshold and not self.vetoed and not self.excluded

    @property
    def matches(self) -> bool:
        """Whether detection matches the topic semantically (gate held and it passes)."""
        return self.gated and self.passes

    @property
    def near_miss(self) -> bool:
        """Gated, not matched, not vetoed, and within ``margin`` below the threshold."""
        return (
            self.gated
            and not self.vetoed
            and not self.excluded
            and self.threshold - self.margin <= self.similarity < self.threshold
        )

    def why(self) -> str:
        """``similar to example 3 (0.71)``."""
        return f"similar to example {self.example} ({self.similarity:.2f})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "topic": self.topic,
            "similarity": round(self.similarity, 4),
            "example": self.example,
            "counter_similarity": (
                None if self.counter_similarity is None else round(self.counter_similarity, 4)
            ),
            "counter_example": self.counter_example,
            "vetoed": self.vetoed,
            "gated": self.gated,
            "threshold": self.threshold,
            "margin": self.margin,
            "rule_match": self.rule_match,
            "excluded": self.excluded,
        }


def article_text(article: ArticleText) -> str:
    """What is embedded: the title and the start of the lead (summary, else content)."""
    title = normalize_text(article.title, max_chars=LEAD_CHARS)
    lead = normalize_text(article.summary or article.content, max_chars=LEAD_CHARS * 2)
    return f"{title}. {lead[:LEAD_CHARS]}" if lead else title


class SemanticScorer:
    """Every topic's examples embedded once; scores article vectors against them."""

    def __init__(self, topics: Sequence[CompiledTopic], embedder: Embedder) -> None:
        self.embedder = embedder
        self._topics: dict[str, tuple[CSemantic, np.ndarray, np.ndarray | None]] = {}
        for topic in topics:
            if topic.semantic is None:
                continue
            examples = embedder.embed(list(topic.semantic.examples))
            counters = (
                embedder.embed(list(topic.semantic.counter_examples))
                if topic.semantic.counter_examples
                else None
            )
            self._topics[topic.id] = (topic.semantic, examples, counters)

    def topic_ids(self) -> tuple[str, ...]:
        """The topics that have examples."""
        return tuple(self._topics)

    def embed(self, articles: Sequence[ArticleText]) -> np.ndarray:
        """The articles' vectors (title and lead), one row each."""
        return self.embedder.embed([article_text(a) for a in articles])

    def score(self, topic: str, vector: np.ndarray, **flags: bool) -> SemanticScore:
        """``vector`` against the examples of ``topic``; ``flags``: gated, rule_match, excluded."""
        semantic, examples, counters = self._topics[topic]
        similarities = examples @ vector
        best = int(np.argmax(similarities))
        similarity = float(similarities[best])
        counter_similarity: float | None = None
        counter_example: int | None = None
        vetoed = False
        if counters is not None:
            counter_sims = counters @ vector
            closest = int(np.argmax(counter_sims))
            counter_similarity = float(counter_sims[closest])
            counter_example = closest + 1
            vetoed = counter_similarity >= similarity - semantic.counter_margin
        return SemanticScore(
            topic=topic,
            similarity=similarity,
            example=best + 1,
            counter_similarity=counter_similarity,
            counter_example=counter_example,
            vetoed=vetoed,
            threshold=semantic.threshold,
            margin=semantic.margin,
            gated=flags.get("gated", False),
            rule_match=flags.get("rule_match", False),
            excluded=flags.get("excluded", False),
        )
