"""Labels for evaluation: which topics an operator judged each article to be about.

Two line forms, JSON, one object a line (``watchlist eval`` and ``watchlist tune`` read both):

- ``{"id": "a1", "topics": ["china-llm"]}``: the article was judged for EVERY topic; it is about
  the topics listed and about no other (an empty list is a judged negative for every topic).
- ``{"id": "a1", "judgments": {"ai-moratorium": false}}``: the article was judged only for the
  topics named (a 👎 on an ai-moratorium alert says nothing about china-llm); other topics do
  not count for it.

An article without any label line counts as about no topic. When two lines judge the same article
and topic differently, the later line wins (files are read in the order given) and the conflict
is counted, so that an operator sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field


class LabelError(ValueError):
    """A label line that cannot be read; the message is ``file:line: problem``."""


@dataclass
class Labels:
    """Judgments per article id and topic."""

    #: Ids judged for every topic (the ``topics`` form) -> the topics they are about.
    complete: dict[str, set[str]] = field(default_factory=dict)
    #: Per-topic judgments (the ``judgments`` form, and overrides of the ``topics`` form).
    judgments: dict[str, dict[str, bool]] = field(default_factory=dict)
    #: (id, topic) pairs that two lines judged differently.
    conflicts: list[tuple[str, str]] = field(default_factory=list)

    def judgment(self, article_id: str, topic: str) -> bool | None:
        """The judgment for ``topic`` (an unlabeled article: False); None if not judged for it."""
        own = self.judgments.get(article_id, {}).get(topic)
        if own is not None:
            return own
        if article_id in self.complete:
            return topic in self.complete[article_id]
        if article_id in self.judgments:
            return None  # judged for other topics only
        return False

    def ids(self) -> set[str]:
        """Every labeled article id."""
        return set(self.complete) | set(self.judgments)

    def topic_mentions(self) -> dict[str, int]:
        """How many labeled articles name each topic (positively, or in a judgment)."""
        counts: dict[str, int] = {}
        for article_id in self.ids():
            named = self.complete.get(article_id, set()) | set(self.judgments.get(article_id, {}))
            for topic in named:
                counts[topic] = counts.get(topic, 0) + 1
        return counts

    def add_topics(self, article_id: str, topics: Iterable[str]) -> None:
        """A ``topics`` line: judged for every topic (several such lines add up)."""
        topics = set(topics)
        for topic, value in self.judgments.get(article_id, {}).items():
            if value != (topic in topics):
                self.conflicts.append((article_id, topic))
        self.judgments.pop(article_id, None)  # the later line wins
        self.complete.setdefault(article_id, set()).update(topics)

    def add_judgments(self, article_id: str, judged: dict[str, bool]) -> None:
        """A ``judgments`` line: judged only for the topics named."""
        for topic, value in judged.items():
            earlier = self.judgment(article_id, topic) if self.is_labeled(article_id) else None
            if earlier is not None and earlier != value:
                self.conflicts.append((article_id, topic))
            self.judgments.setdefault(article_id, {})[topic] = value

    def is_labeled(self, article_id: str) -> bool:
        """Whether some line labels this article."""
        return article_id in self.complete or article_id in self.judgments


def parse_label_line(line: str, where: str, labels: Labels) -> None:
    """Add one JSON label line to ``labels``; raise :class:`LabelError` naming ``where``."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        msg = f"{where}: invalid label line: {exc}"
        raise LabelError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str | int):
        msg = f"{where}: invalid label line: needs an 'id' (string or number)"
        raise LabelError(msg)
    article_id = str(data["id"])
    has_topics, has_judgments = "topics" in data, "judgments" in data
    if has_topics == has_judgments:
        msg = f"{where}: invalid label line: needs exactly one of 'topics' or 'judgments'"
        raise LabelError(msg)
    if has_topics:
        topics = data["topics"]
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            msg = f"{where}: invalid label line: 'topics' must be a list of strings"
            raise LabelError(msg)
        labels.add_topics(article_id, topics)
        return
    judged = data["judgments"]
    if (
        not isinstance(judged, dict)
        or not judged
        or not all(isinstance(v, bool) for v in judged.values())
    ):
        msg = (
            f"{where}: invalid label line: 'judgments' must map topic ids to true or false "
            "(at least one)"
        )
        raise LabelError(msg)
    labels.add_judgments(article_id, judged)


def read_labels(lines: Iterable[str], name: str, labels: Labels | None = None) -> Labels:
    """Read JSON label lines (blank lines skipped) from the file called ``name``."""
    labels = labels if labels is not None else Labels()
    for number, line in enumerate(lines, start=1):
        if line.strip():
            parse_label_line(line, f"{name}:{number}", labels)
    return labels
