"""How ``wirewatch watchlist test`` shows its answer: text for people, a dict for ``--json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitors.detector import Detector, TopicExplanation
    from monitors.results import Entity
    from monitors.semantic import SemanticScore


def explanations_json(
    detector: Detector, explanations: list[TopicExplanation], entities: tuple[Entity, ...]
) -> dict[str, Any]:
    """Every topic's blocks, evidence and semantic score, and the article's entities."""
    return {
        "topics": [
            {
                "topic": item.topic,
                "matched": item.matched,
                "blocks": [block.to_dict() for block in item.rules],
                "evidence": [evidence.to_dict() for evidence in item.evidence],
                "semantic": _semantic_dict(detector, item.semantic),
            }
            for item in explanations
        ],
        "entities": [entity.to_dict() for entity in entities],
    }


def format_explanations(
    detector: Detector, explanations: list[TopicExplanation], entities: tuple[Entity, ...]
) -> str:
    """Topic by topic: each block's state, each condition's words found and part missing."""
    lines: list[str] = []
    for item in explanations:
        mark = "MATCH   " if item.matched else "no match"
        lines.append(f"{mark} {item.topic}")
        blocks = item.rules if any(block.parts_found for block in item.rules) else ()
        if not blocks:
            lines.append("    no term of the topic found")
        for block in blocks:
            state = block.state.name.lower()
            if not block.parts_found:
                lines.append(f"    {block.name}: {state} (none of its terms found)")
                continue
            vetoes = block.name.startswith("exclude") and state == "true"
            lines.append(f"    {block.name}: {state}" + (" (vetoes the match)" if vetoes else ""))
            for condition in block.conditions:
                held = condition.state.name.lower()
                lines.append(f"        {held:<5}  {condition.describe()}")
        for evidence in item.evidence:
            lines.append(f"    evidence {evidence.rule}: {evidence.text!r} ({evidence.field})")
        lines += [f"    {line}" for line in _semantic_lines(detector, item.semantic)]
    if entities:
        lines.append("entities: " + ", ".join(f"{e.text} ({e.label})" for e in entities))
    return "\n".join(lines)


def _example_text(detector: Detector, topic: str, number: int | None, counter: bool) -> str:
    found = detector.watchlist.topic(topic)
    if found is None or number is None:
        return ""
    texts = found.counter_example_texts() if counter else found.example_texts()
    return texts[number - 1] if 0 < number <= len(texts) else ""


def _semantic_lines(detector: Detector, score: SemanticScore | None) -> list[str]:
    """The semantic stage's answer for one topic, as ``watchlist test`` prints it."""
    if score is None:
        return []
    state = "passes" if score.passes else "below the threshold"
    if score.vetoed:
        state = "vetoed by a counter-example"
    elif score.excluded:
        state = "vetoed by an exclusion"
    gate = "gate held" if score.gated else "gate did not hold: not a candidate"
    example = _example_text(detector, score.topic, score.example, counter=False)
    lines = [
        f"semantic: {score.similarity:.3f} (threshold {score.threshold:g}, {state}; {gate})",
        f"    nearest example {score.example}: {_shorten(example)}",
    ]
    if score.counter_similarity is not None:
        counter = _example_text(detector, score.topic, score.counter_example, counter=True)
        lines.append(
            f"    nearest counter-example {score.counter_example} "
            f"({score.counter_similarity:.3f}): {_shorten(counter)}"
        )
    return lines


def _semantic_dict(detector: Detector, score: SemanticScore | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        **score.to_dict(),
        "example_text": _example_text(detector, score.topic, score.example, counter=False),
        "counter_example_text": _example_text(
            detector, score.topic, score.counter_example, counter=True
        ),
    }


def _shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
