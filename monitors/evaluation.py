"""Scoring a watchlist against labeled articles: precision, recall and F1 per topic.

Operators tune a watchlist with this (``wirewatch watchlist eval``): every false positive is
listed with the evidence that fired, every false negative with the state of each rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitors.article import ArticleText
from monitors.results import Evidence

if TYPE_CHECKING:
    from monitors.detector import Detector


@dataclass(frozen=True)
class Miss:
    """A false positive (with the evidence that fired) or false negative (with rule states)."""

    article_id: str
    title: str
    evidence: tuple[Evidence, ...] = ()
    blocks: dict[str, str] = field(default_factory=dict)


@dataclass
class TopicScore:
    """Counts and figures for one topic."""

    topic: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_positives: list[Miss] = field(default_factory=list)
    false_negatives: list[Miss] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    """Scores per topic, plus what could not be scored."""

    articles: int
    topics: list[TopicScore]
    unknown_label_topics: dict[str, int]
    labels_without_article: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (and the ids of the misses)."""
        return {
            "articles": self.articles,
            "topics": {s.topic: _figures(s) for s in self.topics},
            "unknown_label_topics": self.unknown_label_topics,
            "labels_without_article": self.labels_without_article,
        }


def _figures(s: TopicScore) -> dict[str, Any]:
    return {
        "tp": s.tp,
        "fp": s.fp,
        "fn": s.fn,
        "precision": round(s.precision, 4),
        "recall": round(s.recall, 4),
        "f1": round(s.f1, 4),
        "false_positives": [m.article_id for m in s.false_positives],
        "false_negatives": [m.article_id for m in s.false_negatives],
    }


def evaluate(
    detector: Detector, articles: Sequence[ArticleText], labels: dict[str, set[str]]
) -> Report:
    """Score ``detector`` on ``articles``; an article without labels is about no topic."""
    topic_ids = [topic.id for topic in detector.watchlist.topics]
    scores = {topic: TopicScore(topic) for topic in topic_ids}
    unknown: dict[str, int] = {}
    for topics in labels.values():
        for topic in topics - set(topic_ids):
            unknown[topic] = unknown.get(topic, 0) + 1
    by_id = {article.id: article for article in articles}
    for article, result in zip(articles, detector.detect_many(articles), strict=True):
        expected = labels.get(article.id, set())
        found = {match.topic: match for match in result.matches}
        for topic, score in scores.items():
            if topic in found and topic in expected:
                score.tp += 1
            elif topic in found:
                score.fp += 1
                score.false_positives.append(Miss(article.id, article.title, found[topic].evidence))
            elif topic in expected:
                score.fn += 1
                score.false_negatives.append(Miss(article.id, article.title))
    for score in scores.values():
        # Explain each miss (NER included): which rules held, which did not.
        score.false_negatives = [
            _explained(detector, by_id[m.article_id], score.topic) for m in score.false_negatives
        ]
    return Report(
        articles=len(articles),
        topics=list(scores.values()),
        unknown_label_topics=unknown,
        labels_without_article=sorted(set(labels) - set(by_id)),
    )


def _explained(detector: Detector, article: ArticleText, topic: str) -> Miss:
    for item in detector.explain(article):
        if item.topic == topic:
            return Miss(article.id, article.title, item.evidence, item.blocks)
    return Miss(article.id, article.title)


def _evidence_line(evidence: tuple[Evidence, ...]) -> str:
    shown = [f"{e.text!r} ({e.field}, {e.rule})" for e in evidence[:6]]
    return "; ".join(shown) + (f"; +{len(evidence) - 6} more" if len(evidence) > 6 else "")


def format_report(report: Report, show: int = 50) -> str:
    """The report as text: a table of figures, then the misses topic by topic."""
    lines = [f"{report.articles} articles", ""]
    width = max([len(s.topic) for s in report.topics] + [5])
    lines.append(f"{'topic':<{width}}  {'tp':>4} {'fp':>4} {'fn':>4}  precision  recall     f1")
    for s in report.topics:
        lines.append(
            f"{s.topic:<{width}}  {s.tp:>4} {s.fp:>4} {s.fn:>4}  "
            f"{s.precision:>9.3f}  {s.recall:>6.3f}  {s.f1:>5.3f}"
        )
    if report.unknown_label_topics:
        unknown = ", ".join(f"{t} ({n})" for t, n in sorted(report.unknown_label_topics.items()))
        lines.append(f"labels name topics the watchlist does not have: {unknown}")
    if report.labels_without_article:
        lines.append(
            f"{len(report.labels_without_article)} labeled ids have no article: "
            + ", ".join(report.labels_without_article[:10])
        )
    for s in report.topics:
        if s.false_positives:
            lines += ["", f"false positives of {s.topic} ({s.fp}):"]
            for miss in s.false_positives[:show]:
                lines.append(f"  {miss.article_id}  {miss.title[:100]}")
                lines.append(f"      evidence: {_evidence_line(miss.evidence)}")
        if s.false_negatives:
            lines += ["", f"false negatives of {s.topic} ({s.fn}):"]
            for miss in s.false_negatives[:show]:
                lines.append(f"  {miss.article_id}  {miss.title[:100]}")
                states = ", ".join(f"{k}={v}" for k, v in miss.blocks.items())
                lines.append(f"      rules: {states or 'no term of the topic found'}")
                if miss.evidence:
                    lines.append(f"      found: {_evidence_line(miss.evidence)}")
    return "\n".join(lines)
