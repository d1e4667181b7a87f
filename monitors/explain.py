"""Why a topic's rules held or failed on one article, part by part, from hits already found.

Each condition of a block (``any``, ``all``, ``near``...) is split into *parts*: a term list of
``any``/``entities``, each group of ``all``/``near``/``same_sentence``, the labels (and terms) of
``entity_types``. For each part the words found are listed with their field; a condition that
fails either misses a part or, with every part found, misses its constraint ("within 12 words",
"in one sentence"). ``wirewatch watchlist test`` prints this; the detector uses the same parts
to spot *partial rules* (every part of a rule found but one): near misses worth a label.

Everything here reads the hits of the cheap pass (and the NER spans when they exist): no extra
tokenizer or NER run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from monitors.compiled import CBlock, CGroup, CompiledTopic
from monitors.evaluate import ArticleContext, Hit, Span, State, evaluate_block

#: Words shown per part, and term names listed for a missing part.
SHOWN_WORDS = 2
SHOWN_TERMS = 6
KINDS = ("any", "entities", "all", "near", "same_sentence", "entity_types")


@dataclass(frozen=True, slots=True)
class Found:
    """A word or phrase found in a field."""

    text: str
    field: str

    def __str__(self) -> str:
        return f'"{self.text}" ({self.field})'


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a condition: the terms any of which will do, and what of them was found."""

    terms: tuple[str, ...]
    found: tuple[Found, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "terms": list(self.terms),
            "found": [{"text": f.text, "field": f.field} for f in self.found],
        }


@dataclass(frozen=True, slots=True)
class ConditionReport:
    """One condition of a block: its state, its parts, and its constraint ("within 12 words")."""

    rule: str
    state: State
    parts: tuple[Part, ...]
    constraint: str = ""

    @property
    def missing(self) -> tuple[Part, ...]:
        """Parts of which nothing was found."""
        return tuple(part for part in self.parts if not part.found)

    def describe(self) -> str:
        """One line: what was found, what was missing (``rules[0].near: found ...``)."""
        found = [str(f) for part in self.parts for f in part.found]
        text = f"{self.rule}: "
        text += f"found {', '.join(found)}" if found else "nothing found"
        missing = self.missing
        for part in missing:
            text += f"; missing {_one_of(part.terms)}"
        if self.constraint:
            if self.state == State.TRUE:
                text += f" {self.constraint}"
            elif not missing and self.state == State.FALSE:
                text += f", but not {self.constraint}"
            elif missing:
                text += f" {self.constraint}"
        if self.state == State.UNKNOWN:
            text += " (needs the NER)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "state": self.state.name.lower(),
            "constraint": self.constraint,
            "parts": [part.to_dict() for part in self.parts],
            "text": self.describe(),
        }


@dataclass(frozen=True, slots=True)
class BlockReport:
    """A block (``conditions``, ``rules[i]`` or ``exclude[i]``): its state and its conditions."""

    name: str
    state: State
    conditions: tuple[ConditionReport, ...]

    @property
    def parts_found(self) -> int:
        """Parts of the block of which something was found."""
        return sum(1 for c in self.conditions for part in c.parts if part.found)

    @property
    def parts(self) -> int:
        """Parts of the block."""
        return sum(len(c.parts) for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "block": self.name,
            "state": self.state.name.lower(),
            "conditions": [c.to_dict() for c in self.conditions],
        }


def _one_of(terms: tuple[str, ...]) -> str:
    shown = list(terms[:SHOWN_TERMS]) + (["..."] if len(terms) > SHOWN_TERMS else [])
    return terms[0] if len(terms) == 1 else f"one of [{', '.join(shown)}]"


def _texts(ctx: ArticleContext, hits: list[Hit] | list[Span]) -> tuple[Found, ...]:
    seen: dict[str, Found] = {}
    for hit in hits:
        text = ctx.fields[hit.field].text[hit.char_start : hit.char_end]
        seen.setdefault(text.lower(), Found(text, hit.field))
        if len(seen) >= SHOWN_WORDS:
            break
    return tuple(seen.values())


def _group_part(ctx: ArticleContext, group: CGroup, fields: tuple[str, ...]) -> Part:
    return Part(tuple(t.label for t in group), _texts(ctx, ctx.group_hits(group, fields)))


def _parts(
    ctx: ArticleContext, block: CBlock, kind: str, fields: tuple[str, ...]
) -> tuple[tuple[Part, ...], str]:
    if kind in ("any", "entities"):
        terms = block.any if kind == "any" else block.entities
        assert terms is not None
        return (_group_part(ctx, terms, fields),), ""
    if kind == "all":
        assert block.all is not None
        return tuple(_group_part(ctx, g, fields) for g in block.all), ""
    if kind == "near":
        assert block.near is not None
        groups, within = block.near
        return tuple(_group_part(ctx, g, fields) for g in groups), f"within {within} words"
    if kind == "same_sentence":
        assert block.same_sentence is not None
        groups = block.same_sentence
        return tuple(_group_part(ctx, g, fields) for g in groups), "in one sentence"
    types = block.entity_types
    assert types is not None
    spans = [s for s in (*ctx.watched, *(ctx.ner or ())) if s.label in types.labels]
    spans = [s for s in spans if s.field in fields]
    labels = Part(tuple(sorted(types.labels)), _texts(ctx, spans))
    if types.terms is None:
        return (labels,), ""
    return (labels, _group_part(ctx, types.terms, fields)), "in one sentence"


def _present(ctx: ArticleContext, group: CGroup, fields: tuple[str, ...]) -> bool:
    return any(
        hit.field in fields
        for term in group
        for atom in term.atoms
        for hit in ctx.hits.get(atom, ())
    )


def _presence(ctx: ArticleContext, block: CBlock, fields: tuple[str, ...]) -> tuple[int, int]:
    """(parts with something found, parts) of a block: hit lookups only, no text, no sorting."""
    groups: list[CGroup] = [g for g in (block.any, block.entities) if g is not None]
    for listed in (block.all, block.same_sentence, block.near[0] if block.near else None):
        groups += listed or ()
    found = sum(1 for group in groups if _present(ctx, group, fields))
    total = len(groups)
    types = block.entity_types
    if types is not None:
        spans = (*ctx.watched, *(ctx.ner or ()))
        total += 1 + (types.terms is not None)
        found += any(s.label in types.labels and s.field in fields for s in spans)
        found += types.terms is not None and _present(ctx, types.terms, fields)
    return found, total


def explain_block(
    ctx: ArticleContext, block: CBlock, fields: tuple[str, ...], name: str
) -> BlockReport:
    """Each condition of ``block`` with its parts; the block's state as evaluation decides it."""
    conditions = []
    for kind in KINDS:
        if getattr(block, kind) is None:
            continue
        alone = replace(CBlock(rule=block.rule), **{kind: getattr(block, kind)})
        state, _ = evaluate_block(ctx, alone, fields)
        parts, constraint = _parts(ctx, block, kind, fields)
        conditions.append(ConditionReport(block.rule + kind, state, parts, constraint))
    state, _ = evaluate_block(ctx, block, fields)
    return BlockReport(name, state, tuple(conditions))


def _named_blocks(topic: CompiledTopic) -> Iterator[tuple[str, CBlock]]:
    if not topic.main.empty():
        yield "conditions", topic.main
    for block in (*topic.rules, *topic.exclude):
        yield block.rule.rstrip("."), block


def explain_topic(ctx: ArticleContext, topic: CompiledTopic) -> tuple[BlockReport, ...]:
    """Every block of ``topic`` (conditions, rules, exclusions) explained for one article."""
    return tuple(
        explain_block(ctx, block, topic.fields, name) for name, block in _named_blocks(topic)
    )


def is_partial(report: BlockReport) -> bool:
    """A failed block that lacks one part only (of two or more found), or only a constraint.

    "Musk" alone is no near miss of a two-group rule; "pause" and "AI" without the third group
    of a three-group rule, or all groups present but too far apart, are.
    """
    if report.state != State.FALSE:
        return False
    missing = report.parts - report.parts_found
    return (missing == 1 and report.parts_found >= 2) or (missing == 0 and report.parts >= 2)


def partial_rule(ctx: ArticleContext, topic: CompiledTopic, blocks: dict[str, State]) -> str:
    """The detail of a topic's closest partial block, or "" when no block is partial.

    Call only for a topic that did not match; ``blocks`` are its block states from evaluation
    (a topic an exclusion vetoed is no near miss: the operator said so).
    """
    if topic.atoms.isdisjoint(ctx.hits):
        return ""
    if any(name.startswith("exclude") and state == State.TRUE for name, state in blocks.items()):
        return ""
    main_holds = blocks.get("conditions", State.TRUE) == State.TRUE
    rules_hold = not topic.rules or any(
        blocks.get(block.rule.rstrip(".")) == State.TRUE for block in topic.rules
    )
    candidates: list[tuple[str, CBlock]] = []
    if main_holds:
        candidates += [(block.rule.rstrip("."), block) for block in topic.rules]
    elif rules_hold:
        candidates.append(("conditions", topic.main))
    best: BlockReport | None = None
    for name, block in candidates:
        found, total = _presence(ctx, block, topic.fields)
        if not (total - found == 1 and found >= 2) and not (found == total >= 2):
            continue  # cheap check first: most blocks lack two parts or more
        report = explain_block(ctx, block, topic.fields, name)
        if is_partial(report) and (
            best is None or report.parts_found - report.parts > best.parts_found - best.parts
        ):
            best = report
    if best is None:
        return ""
    failed = [c for c in best.conditions if c.state != State.TRUE]
    return "; ".join(c.describe() for c in failed)
