"""Proposing each topic's semantic threshold from labeled data (``wirewatch watchlist tune``).

The proposal is the threshold with the highest combined recall (rules OR examples) whose combined
precision is at least the precision the operator asks for. Only thresholds between two labeled
scores differ, so every eligible score is a candidate; among those with the best recall the
highest wins (fewest alerts for the same catch), and the proposal sits halfway between the lowest
score it lets through and the next score below, so that a new article scored a little lower than
its nearest labeled neighbour is not lost to the third decimal. The figures printed with a
proposal are counted again at the rounded value that would be written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from monitors.evaluation import Counts, Judged, TopicEval, count

#: Below this many labeled positives a proposal is printed with a warning.
FEW_POSITIVES = 10
DECIMALS = 3


@dataclass(frozen=True)
class Proposal:
    """A topic's proposed threshold, with the figures now and at the proposal."""

    topic: str
    current: float
    proposed: float | None  # None: no threshold reaches the asked precision, or none is needed
    now: Counts
    then: Counts | None
    positives: int
    negatives: int
    notes: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        """Whether writing the proposal would change the watchlist."""
        return self.proposed is not None and abs(self.proposed - self.current) > 10**-DECIMALS / 2


def _combined(rows: list[Judged], threshold: float) -> Counts:
    return count(rows, lambda row: row.combined(threshold))


def propose(evaluation: TopicEval, min_precision: float) -> Proposal | None:
    """The proposal for one topic (None for a topic without examples)."""
    if evaluation.threshold is None:
        return None
    rows = evaluation.rows
    current = evaluation.threshold
    positives = evaluation.positives
    base = Proposal(
        topic=evaluation.topic,
        current=current,
        proposed=None,
        now=_combined(rows, current),
        then=None,
        positives=positives,
        negatives=len(rows) - positives,
    )
    notes: list[str] = []
    if positives < FEW_POSITIVES:
        notes.append(f"only {positives} labeled positives: treat the proposal as a hint")
    rules = count(rows, lambda row: row.rules)
    if rules.precision < min_precision:
        notes.append(
            f"the rules alone have precision {rules.precision:.3f} < {min_precision}: no "
            "threshold can reach it; fix their false positives first (watchlist eval)"
        )
        return replace(base, notes=tuple(notes))
    scores = sorted(
        {row.semantic.score for row in rows if row.semantic is not None and row.semantic.eligible},
        reverse=True,
    )
    # Index i stands for the threshold scores[i]: every eligible score >= it passes.
    feasible = [
        (figures.tp, index)
        for index, score in enumerate(scores)
        if (figures := _combined(rows, score)).precision >= min_precision
    ]
    best_tp = max((tp for tp, _ in feasible), default=rules.tp)
    if best_tp > rules.tp:
        # The highest threshold with the best recall: the fewest alerts for the same catch.
        index = min(i for tp, i in feasible if tp == best_tp)
        proposed = _between(scores, index)
    elif base.now.precision >= min_precision:
        notes.append(
            f"at precision >= {min_precision} the examples find no labeled positive that the "
            "rules miss, and the current threshold keeps the precision: left as it is (label "
            "more, or add examples)"
        )
        return replace(base, notes=tuple(notes))
    else:
        # Examples add only false positives here: the lowest threshold that restores the
        # precision, so that the examples stay as useful as these labels allow.
        candidates = [i for tp, i in feasible if tp == rules.tp]
        if candidates:
            proposed = _between(scores, max(candidates))
        else:
            proposed = min(1.0, round(scores[0] + 0.01, DECIMALS))
        notes.append(
            f"the examples add no labeled positive and cost precision at {current:g}: the "
            "proposal raises the threshold until the precision is back"
        )
    then = _combined(rows, proposed)
    return replace(base, proposed=proposed, then=then, notes=tuple(notes))


def _between(scores: list[float], index: int) -> float:
    """Halfway between ``scores[index]`` (let through) and the next score below (kept out)."""
    lowest = scores[index]
    below = scores[index + 1] if index + 1 < len(scores) else lowest - 0.02
    proposed = round((lowest + below) / 2, DECIMALS)
    return min(proposed, lowest)  # rounding must not lose the lowest score let through


def format_proposals(proposals: list[Proposal], skipped: list[str], min_precision: float) -> str:
    """A table of proposals (combined figures now and at the proposal) and their notes."""
    width = max([len(p.topic) for p in proposals] + [5])
    lines = [
        f"thresholds for the highest recall at precision >= {min_precision} "
        "(combined: rules OR examples)",
        "",
        f"{'topic':<{width}}  {'pos':>4} {'neg':>5}  {'current':>7} {'prec':>6} {'recall':>6}"
        f"  {'proposed':>8} {'prec':>6} {'recall':>6}",
    ]
    for p in proposals:
        left = (
            f"{p.topic:<{width}}  {p.positives:>4} {p.negatives:>5}  {p.current:>7.3f} "
            f"{p.now.precision:>6.3f} {p.now.recall:>6.3f}"
        )
        if p.proposed is None or p.then is None:
            lines.append(f"{left}  {'-':>8}")
        else:
            lines.append(
                f"{left}  {p.proposed:>8.3f} {p.then.precision:>6.3f} {p.then.recall:>6.3f}"
            )
    for p in proposals:
        for note in p.notes:
            lines.append(f"{p.topic}: {note}")
    for topic in skipped:
        lines.append(f"{topic}: no examples, rules only: nothing to tune")
    return "\n".join(lines)
