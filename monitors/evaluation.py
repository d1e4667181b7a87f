"""Scoring a watchlist against labeled articles: precision, recall and F1 per topic.

Operators tune a watchlist with this (``wirewatch watchlist eval`` and ``tune``). Each topic is
scored three ways when it has examples: its rules alone, its examples alone (the semantic score
passes the threshold and the gate holds) and both combined (what the detector alerts on: rules OR
examples), and the examples and combined figures are swept over thresholds. Every false positive
is listed with the evidence that fired, every false negative with the state of each rule.

The semantic side comes in through :class:`ExampleScorer`, so that the arithmetic here can be
tested without a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from monitors.article import ArticleText
from monitors.labels import Labels
from monitors.results import Evidence

if TYPE_CHECKING:
    from monitors.detector import Detector

#: Thresholds swept by default: 0.30, 0.32, ... 0.80.
DEFAULT_SWEEP = tuple(round(0.30 + 0.02 * step, 2) for step in range(26))

MODES = ("rules", "examples", "combined")


@dataclass(frozen=True, slots=True)
class ExampleScore:
    """One article's semantic answer for one topic, as evaluation needs it.

    ``eligible``: whether a high enough score would match, i.e. the gate held and neither a
    counter-example nor an exclusion vetoed the article (all independent of the threshold).
    """

    score: float
    eligible: bool = True


class ExampleScorer(Protocol):
    """The semantic stage as evaluation sees it."""

    def thresholds(self) -> dict[str, float]:
        """The topics that have examples, with their configured thresholds."""
        ...

    def score_many(self, articles: Sequence[ArticleText]) -> list[dict[str, ExampleScore]]:
        """Per article (in order), per topic with examples: the score, whatever the gate says."""
        ...


class DetectorExamples:
    """A detector's own semantic stage as an :class:`ExampleScorer`."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def thresholds(self) -> dict[str, float]:
        """Topics with examples and their thresholds (the schema's default when not set)."""
        from monitors.schema import Semantic

        return {
            topic.id: (topic.semantic or Semantic()).threshold
            for topic in self.detector.watchlist.topics
            if topic.example_texts()
        }

    def score_many(self, articles: Sequence[ArticleText]) -> list[dict[str, ExampleScore]]:
        """Every article scored, gate or not; eligible = gated, not vetoed, not excluded."""
        return [
            {
                topic: ExampleScore(s.similarity, s.gated and not s.vetoed and not s.excluded)
                for topic, s in scores.items()
            }
            for scores in self.detector.semantic_scores(articles)
        ]


@dataclass(frozen=True)
class Miss:
    """A false positive (with the evidence that fired) or false negative (with rule states)."""

    article_id: str
    title: str
    evidence: tuple[Evidence, ...] = ()
    blocks: dict[str, str] = field(default_factory=dict)
    score: float | None = None  # the semantic score, when the topic has examples


@dataclass
class Counts:
    """True positives, false positives and false negatives, and the figures from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

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

    def figures(self) -> dict[str, Any]:
        """JSON-ready counts and figures."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass
class TopicScore(Counts):
    """Counts, figures and misses of one topic in one mode."""

    topic: str = ""
    false_positives: list[Miss] = field(default_factory=list)
    false_negatives: list[Miss] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Judged:
    """One article judged for one topic, with what each stage said about it."""

    article_id: str
    title: str
    label: bool
    rules: bool
    semantic: ExampleScore | None  # None when the topic has no examples

    def by_examples(self, threshold: float) -> bool:
        """Whether the examples alone would match at ``threshold`` (if eligible at all)."""
        s = self.semantic
        return s is not None and s.eligible and s.score >= threshold

    def combined(self, threshold: float) -> bool:
        """Rules OR examples: what the detector matches."""
        return self.rules or self.by_examples(threshold)


def count(rows: Sequence[Judged], predict: Callable[[Judged], bool]) -> Counts:
    """TP/FP/FN of ``predict`` over ``rows``."""
    counts = Counts()
    for row in rows:
        said = predict(row)
        if said and row.label:
            counts.tp += 1
        elif said:
            counts.fp += 1
        elif row.label:
            counts.fn += 1
    return counts


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """Examples-only and combined figures at one threshold."""

    threshold: float
    examples: Counts
    combined: Counts


def sweep(rows: Sequence[Judged], thresholds: Sequence[float]) -> list[SweepPoint]:
    """The examples-only and combined figures of ``rows`` at every threshold."""
    return [
        SweepPoint(
            t,
            count(rows, partial(Judged.by_examples, threshold=t)),
            count(rows, partial(Judged.combined, threshold=t)),
        )
        for t in thresholds
    ]


@dataclass
class TopicEval:
    """One topic: its judged articles, its figures per mode and its sweep."""

    topic: str
    rows: list[Judged]
    threshold: float | None  # the configured one; None when the topic has no examples
    modes: dict[str, TopicScore]
    sweep: list[SweepPoint]

    @property
    def has_examples(self) -> bool:
        """Whether the topic has a semantic stage (examples)."""
        return self.threshold is not None

    @property
    def configured(self) -> TopicScore:
        """The figures of what the watchlist does as configured."""
        return self.modes["combined" if self.has_examples else "rules"]

    @property
    def positives(self) -> int:
        """Articles labeled as about the topic."""
        return sum(row.label for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the configured figures at the top (as before modes existed), then more."""
        configured = self.configured
        return {
            **configured.figures(),
            "false_positives": [m.article_id for m in configured.false_positives],
            "false_negatives": [m.article_id for m in configured.false_negatives],
            "judged": len(self.rows),
            "positives": self.positives,
            "has_examples": self.has_examples,
            "threshold": self.threshold,
            "modes": {
                mode: {
                    **score.figures(),
                    "false_positives": [m.article_id for m in score.false_positives],
                    "false_negatives": [m.article_id for m in score.false_negatives],
                }
                for mode, score in self.modes.items()
            },
            "sweep": [
                {
                    "threshold": point.threshold,
                    "examples": point.examples.figures(),
                    "combined": point.combined.figures(),
                }
                for point in self.sweep
            ],
        }


@dataclass
class Report:
    """Scores per topic, plus what could not be scored."""

    articles: int
    evals: list[TopicEval]
    unknown_label_topics: dict[str, int]
    labels_without_article: list[str]
    conflicting_labels: list[tuple[str, str]] = field(default_factory=list)

    @property
    def topics(self) -> list[TopicScore]:
        """Each topic's figures as configured (combined with examples, else rules)."""
        return [e.configured for e in self.evals]

    def topic(self, topic_id: str) -> TopicEval:
        """One topic's evaluation."""
        return next(e for e in self.evals if e.topic == topic_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (and the ids of the misses)."""
        return {
            "articles": self.articles,
            "topics": {e.topic: e.to_dict() for e in self.evals},
            "unknown_label_topics": self.unknown_label_topics,
            "labels_without_article": self.labels_without_article,
            "conflicting_labels": [list(pair) for pair in self.conflicting_labels],
        }


def as_labels(labels: Labels | Mapping[str, set[str]]) -> Labels:
    """``Labels`` as they are, or a plain ``{id: topics}`` mapping (every topic judged)."""
    if isinstance(labels, Labels):
        return labels
    converted = Labels()
    for article_id, topics in labels.items():
        converted.add_topics(article_id, topics)
    return converted


def evaluate(
    detector: Detector,
    articles: Sequence[ArticleText],
    labels: Labels | Mapping[str, set[str]],
    scorer: ExampleScorer | None = None,
    thresholds: Sequence[float] = DEFAULT_SWEEP,
) -> Report:
    """Score ``detector`` (and the examples, by ``scorer`` or else the detector's) on ``articles``.

    An article without labels is about no topic; an article judged only for some topics counts
    only for those.
    """
    labels = as_labels(labels)
    if scorer is None:
        scorer = DetectorExamples(detector)
    topic_ids = [topic.id for topic in detector.watchlist.topics]
    configured = scorer.thresholds()
    semantic = scorer.score_many(articles) if configured else [{} for _ in articles]
    rows: dict[str, list[Judged]] = {topic: [] for topic in topic_ids}
    found: dict[tuple[str, str], tuple[Evidence, ...]] = {}
    results = detector.detect_many(articles)
    for article, result, scores in zip(articles, results, semantic, strict=True):
        rule_matches = {m.topic: m for m in result.matches if is_rule_match(m.evidence)}
        for topic in topic_ids:
            label = labels.judgment(article.id, topic)
            if label is None:
                continue
            if topic in rule_matches:
                found[(article.id, topic)] = rule_matches[topic].evidence
            rows[topic].append(
                Judged(
                    article.id,
                    article.title,
                    label,
                    topic in rule_matches,
                    scores.get(topic) if topic in configured else None,
                )
            )
    by_id = {article.id: article for article in articles}
    evals = []
    for topic in topic_ids:
        threshold = configured.get(topic)
        modes = {"rules": _scored(topic, rows[topic], lambda row: row.rules, found)}
        if threshold is not None:
            modes["examples"] = _scored(
                topic, rows[topic], partial(Judged.by_examples, threshold=threshold), found
            )
            modes["combined"] = _scored(
                topic, rows[topic], partial(Judged.combined, threshold=threshold), found
            )
        evaluation = TopicEval(
            topic,
            rows[topic],
            threshold,
            modes,
            sweep(rows[topic], thresholds) if threshold is not None else [],
        )
        # Explain each miss of the configured mode (NER included): which rules held, which not.
        score = evaluation.configured
        score.false_negatives = [
            _explained(detector, by_id[m.article_id], topic, m) for m in score.false_negatives
        ]
        evals.append(evaluation)
    known = set(topic_ids)
    return Report(
        articles=len(articles),
        evals=evals,
        unknown_label_topics={
            topic: n for topic, n in sorted(labels.topic_mentions().items()) if topic not in known
        },
        labels_without_article=sorted(labels.ids() - set(by_id)),
        conflicting_labels=list(labels.conflicts),
    )


def is_rule_match(evidence: tuple[Evidence, ...]) -> bool:
    """Whether a match came from the rules (a semantic match carries only semantic evidence)."""
    from monitors.detector import SEMANTIC_RULE

    return not evidence or any(e.rule != SEMANTIC_RULE for e in evidence)


def _scored(
    topic: str,
    rows: Sequence[Judged],
    predict: Callable[[Judged], bool],
    found: dict[tuple[str, str], tuple[Evidence, ...]],
) -> TopicScore:
    score = TopicScore(topic=topic)
    for row in rows:
        said = predict(row)
        semantic = row.semantic.score if row.semantic is not None else None
        if said and row.label:
            score.tp += 1
        elif said:
            score.fp += 1
            evidence = found.get((row.article_id, topic), ())
            score.false_positives.append(Miss(row.article_id, row.title, evidence, score=semantic))
        elif row.label:
            score.fn += 1
            score.false_negatives.append(Miss(row.article_id, row.title, score=semantic))
    return score


def _explained(detector: Detector, article: ArticleText, topic: str, miss: Miss) -> Miss:
    for item in detector.explain(article):
        if item.topic == topic:
            return Miss(article.id, article.title, item.evidence, item.blocks, miss.score)
    return miss


def _evidence_line(evidence: tuple[Evidence, ...]) -> str:
    shown = [f"{e.text!r} ({e.field}, {e.rule})" for e in evidence[:6]]
    return "; ".join(shown) + (f"; +{len(evidence) - 6} more" if len(evidence) > 6 else "")


def _figures_line(score: Counts) -> str:
    return (
        f"{score.tp:>4} {score.fp:>4} {score.fn:>4}  "
        f"{score.precision:>9.3f}  {score.recall:>6.3f}  {score.f1:>5.3f}"
    )


def format_report(report: Report, show: int = 50, sweeps: bool = True) -> str:
    """The report as text: a table of figures per topic and mode, sweeps, then the misses."""
    lines = [f"{report.articles} articles", ""]
    width = max([len(e.topic) for e in report.evals] + [5])
    lines.append(
        f"{'topic':<{width}}  {'mode':<8}  {'tp':>4} {'fp':>4} {'fn':>4}  precision  recall     f1"
    )
    for e in report.evals:
        if not e.has_examples:
            lines.append(
                f"{e.topic:<{width}}  {'rules':<8}  {_figures_line(e.modes['rules'])}"
                "  (no examples: rules only)"
            )
            continue
        for number, mode in enumerate(MODES):
            name = e.topic if number == 0 else ""
            note = f"  (threshold {e.threshold:g})" if mode != "rules" else ""
            lines.append(f"{name:<{width}}  {mode:<8}  {_figures_line(e.modes[mode])}{note}")
    if report.unknown_label_topics:
        unknown = ", ".join(f"{t} ({n})" for t, n in sorted(report.unknown_label_topics.items()))
        lines.append(f"labels name topics the watchlist does not have: {unknown}")
    if report.labels_without_article:
        lines.append(
            f"{len(report.labels_without_article)} labeled ids have no article: "
            + ", ".join(report.labels_without_article[:10])
        )
    if report.conflicting_labels:
        pairs = ", ".join(f"{i} {t}" for i, t in report.conflicting_labels[:10])
        n = len(report.conflicting_labels)
        lines.append(
            f"{n} {'label contradicts' if n == 1 else 'labels contradict'} an earlier line "
            f"(the later line counts): {pairs}"
        )
    if sweeps:
        for e in report.evals:
            if e.sweep:
                lines += ["", *format_sweep(e)]
    for e in report.evals:
        lines += _format_misses(e.configured, show)
    return "\n".join(lines)


def format_sweep(evaluation: TopicEval) -> list[str]:
    """One topic's sweep as a table; the configured threshold's row is marked."""
    lines = [
        f"threshold sweep of {evaluation.topic} ({evaluation.positives} positives, "
        f"{len(evaluation.rows) - evaluation.positives} negatives judged):",
        "  threshold   examples: precision recall    f1   combined: precision recall    f1",
    ]
    for point in evaluation.sweep:
        ex, co = point.examples, point.combined
        mark = "  <- configured" if _same(point.threshold, evaluation.threshold) else ""
        lines.append(
            f"  {point.threshold:>9.2f}   {ex.precision:>19.3f} {ex.recall:>6.3f} {ex.f1:>5.3f}"
            f"   {co.precision:>19.3f} {co.recall:>6.3f} {co.f1:>5.3f}{mark}"
        )
    return lines


def _same(a: float, b: float | None) -> bool:
    return b is not None and abs(a - b) < 1e-9


def _format_misses(s: TopicScore, show: int) -> list[str]:
    lines: list[str] = []
    if show <= 0:
        return lines
    if s.false_positives:
        lines += ["", f"false positives of {s.topic} ({s.fp}):"]
        for miss in s.false_positives[:show]:
            lines.append(f"  {miss.article_id}  {miss.title[:100]}")
            if miss.evidence:
                lines.append(f"      evidence: {_evidence_line(miss.evidence)}")
            if miss.score is not None:
                lines.append(f"      semantic score: {miss.score:.3f}")
    if s.false_negatives:
        lines += ["", f"false negatives of {s.topic} ({s.fn}):"]
        for miss in s.false_negatives[:show]:
            lines.append(f"  {miss.article_id}  {miss.title[:100]}")
            states = ", ".join(f"{k}={v}" for k, v in miss.blocks.items())
            lines.append(f"      rules: {states or 'no term of the topic found'}")
            if miss.evidence:
                lines.append(f"      found: {_evidence_line(miss.evidence)}")
            if miss.score is not None:
                lines.append(f"      semantic score: {miss.score:.3f}")
    return lines
