"""Topic evaluation: three-valued boolean logic over the hits of one article.

A condition is TRUE, FALSE or UNKNOWN; UNKNOWN means "only the statistical NER can tell". The
detector first evaluates every topic without NER; only articles with an UNKNOWN topic (and, for
their entity list, articles that matched) go through the NER, then UNKNOWN topics are evaluated
again with the entities known.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy
from spacy.attrs import IS_PUNCT, SENT_START

from monitors.compiled import CBlock, CEntityTypes, CGroup, CompiledTopic, CTerm

if TYPE_CHECKING:
    from spacy.tokens import Doc

#: Hits kept per atom and field (bounds the work on text that repeats a term thousands of times).
MAX_HITS = 500


class State(enum.IntEnum):
    """Three-valued truth."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of an atom: token span and character span in a field."""

    atom: int
    field: str
    start: int
    end: int
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class Span:
    """An entity occurrence (from the NER, or a watched entity's alias)."""

    label: str
    field: str
    start: int
    end: int
    char_start: int
    char_end: int
    atom: int = -1  # the alias atom of a watched entity


@dataclass(frozen=True, slots=True)
class Proof:
    """A piece of evidence before it is turned into text: a hit or span and the rule."""

    field: str
    char_start: int
    char_end: int
    rule: str


class FieldView:
    """One field of one article: its doc and lazily built sentence and word indexes."""

    __slots__ = ("_sent_starts", "_sentencizer", "_word_index", "doc", "name", "text")

    def __init__(
        self, name: str, text: str, doc: Doc, sentencizer: Callable[[Doc], Doc] | None = None
    ) -> None:
        self.name = name
        self.text = text
        self.doc = doc
        self._sentencizer = sentencizer
        self._sent_starts: list[int] | None = None
        self._word_index: list[int] | None = None

    def sentence(self, token: int) -> int:
        """Index of the sentence holding token ``token``."""
        if self._sent_starts is None:
            if self._sentencizer is not None and not self.doc.has_annotation("SENT_START"):
                # Sentences are marked only for fields where a sentence rule is in play.
                self._sentencizer(self.doc)
            flags = self.doc.to_array([SENT_START]).reshape(-1)
            self._sent_starts = [0, *(int(i) for i in numpy.flatnonzero(flags == 1) if i > 0)]
        return bisect.bisect_right(self._sent_starts, token) - 1

    def word(self, token: int) -> int:
        """Words (tokens that are not punctuation) before token ``token``."""
        if self._word_index is None:
            punct = self.doc.to_array([IS_PUNCT]).reshape(-1)
            counts = numpy.concatenate(([0], numpy.cumsum(1 - punct)))
            self._word_index = [int(c) for c in counts]
        return self._word_index[min(token, len(self._word_index) - 1)]


@dataclass
class ArticleContext:
    """Everything evaluation knows about one article."""

    fields: dict[str, FieldView]
    hits: dict[int, list[Hit]]
    watched: list[Span]
    ner: list[Span] | None = None  # None until the NER ran

    def term_hits(self, term: CTerm, fields: tuple[str, ...]) -> list[Hit]:
        """The term's hits in ``fields``, in text order."""
        found = [h for atom in term.atoms for h in self.hits.get(atom, ()) if h.field in fields]
        if len(term.atoms) > 1:
            found.sort(key=lambda h: (fields.index(h.field), h.start))
        return found

    def group_hits(self, group: CGroup, fields: tuple[str, ...]) -> list[Hit]:
        """Hits of any term of the group."""
        found = [h for term in group for h in self.term_hits(term, fields)]
        if len(group) > 1:
            found.sort(key=lambda h: (fields.index(h.field), h.start))
        return found


Outcome = tuple[State, list[Proof]]


def _proofs(hits: Iterable[Hit | Span], rule: str) -> list[Proof]:
    return [Proof(h.field, h.char_start, h.char_end, rule) for h in hits]


def _any(
    ctx: ArticleContext, terms: tuple[CTerm, ...], fields: tuple[str, ...], rule: str
) -> Outcome:
    hits = [h for term in terms for h in ctx.term_hits(term, fields)]
    return (State.TRUE, _proofs(hits[:10], rule)) if hits else (State.FALSE, [])


def _all(
    ctx: ArticleContext, groups: tuple[CGroup, ...], fields: tuple[str, ...], rule: str
) -> Outcome:
    proofs: list[Proof] = []
    for group in groups:
        hits = ctx.group_hits(group, fields)
        if not hits:
            return State.FALSE, []
        proofs += _proofs(hits[:3], rule)
    return State.TRUE, proofs


def _near(
    ctx: ArticleContext, groups: tuple[CGroup, ...], within: int, fields: tuple[str, ...], rule: str
) -> Outcome:
    per_group = [ctx.group_hits(group, fields) for group in groups]
    if not all(per_group):
        return State.FALSE, []
    for name in fields:
        view = ctx.fields.get(name)
        if view is None:
            continue
        # (word start, word end, group, hit) sorted by start; slide a window covering every group.
        # Ordered by position and group only: two hits of one group on the same words (a term
        # and an entity alias, say) must not fall through to comparing Hit objects.
        items = sorted(
            (
                (view.word(h.start), view.word(h.end), g, h)
                for g, hits in enumerate(per_group)
                for h in hits
                if h.field == name
            ),
            key=lambda item: item[:3],
        )
        if len({item[2] for item in items}) < len(groups):
            continue
        for i in range(len(items)):
            seen: dict[int, tuple[int, int, int, Hit]] = {}
            for j in range(i, len(items)):
                if items[j][0] - items[i][0] > within + 50:
                    break
                seen.setdefault(items[j][2], items[j])
                if len(seen) == len(groups):
                    chosen = list(seen.values())
                    gap = max(c[0] for c in chosen) - min(c[1] for c in chosen)
                    if gap <= within:
                        return State.TRUE, _proofs((c[3] for c in chosen), rule)
                    break
    return State.FALSE, []


def _same_sentence(
    ctx: ArticleContext, groups: tuple[CGroup, ...], fields: tuple[str, ...], rule: str
) -> Outcome:
    per_group = [ctx.group_hits(group, fields) for group in groups]
    if not all(per_group):
        return State.FALSE, []
    for name in fields:
        view = ctx.fields.get(name)
        if view is None:
            continue
        by_sentence: list[dict[int, Hit]] = []
        for hits in per_group:
            firsts: dict[int, Hit] = {}
            for h in hits:
                if h.field == name:
                    firsts.setdefault(view.sentence(h.start), h)
            by_sentence.append(firsts)
        common = set(by_sentence[0]).intersection(*by_sentence[1:])
        if common:
            sentence = min(common)
            return State.TRUE, _proofs((found[sentence] for found in by_sentence), rule)
    return State.FALSE, []


def _entity_types(
    ctx: ArticleContext, cond: CEntityTypes, fields: tuple[str, ...], rule: str
) -> Outcome:
    spans = [s for s in ctx.watched if s.label in cond.labels and s.field in fields]
    if ctx.ner is not None:
        spans += [s for s in ctx.ner if s.label in cond.labels and s.field in fields]
    if cond.terms is None:
        if spans:
            return State.TRUE, _proofs(spans[:5], rule)
        return (State.FALSE if ctx.ner is not None else State.UNKNOWN), []
    hits = [h for term in cond.terms for h in ctx.term_hits(term, fields)]
    if not hits:
        return State.FALSE, []
    for hit in hits:
        view = ctx.fields[hit.field]
        sentence = view.sentence(hit.start)
        for span in spans:
            if span.field == hit.field and view.sentence(span.start) == sentence:
                return State.TRUE, _proofs((hit, span), rule)
    return (State.FALSE if ctx.ner is not None else State.UNKNOWN), []


def evaluate_block(
    ctx: ArticleContext, block: CBlock, fields: tuple[str, ...], prefix: str = ""
) -> Outcome:
    """AND of the block's conditions (an empty block is TRUE)."""
    rule = prefix + block.rule
    results: list[Outcome] = []
    if block.any is not None:
        results.append(_any(ctx, block.any, fields, rule + "any"))
    if block.entities is not None:
        results.append(_any(ctx, block.entities, fields, rule + "entities"))
    if block.all is not None:
        results.append(_all(ctx, block.all, fields, rule + "all"))
    if block.near is not None:
        results.append(_near(ctx, block.near[0], block.near[1], fields, rule + "near"))
    if block.same_sentence is not None:
        results.append(_same_sentence(ctx, block.same_sentence, fields, rule + "same_sentence"))
    if block.entity_types is not None:
        results.append(_entity_types(ctx, block.entity_types, fields, rule + "entity_types"))
    state = min((s for s, _ in results), default=State.TRUE)
    if state == State.FALSE:
        return state, []
    return state, [proof for _, proofs in results for proof in proofs]


@dataclass(frozen=True)
class TopicOutcome:
    """A topic's answer for one article, with the evidence and each block's state (explain)."""

    state: State
    proofs: list[Proof]
    blocks: dict[str, State]


_NO_MATCH = TopicOutcome(State.FALSE, [], {})


def evaluate_topic(ctx: ArticleContext, topic: CompiledTopic) -> TopicOutcome:
    """Conditions AND (any rule) AND NOT (any exclusion), three-valued."""
    if not topic.hitless and topic.atoms.isdisjoint(ctx.hits):
        return _NO_MATCH
    fields = topic.fields
    blocks: dict[str, State] = {}
    proofs: list[Proof] = []
    state = State.TRUE
    if not topic.main.empty():
        state, main_proofs = evaluate_block(ctx, topic.main, fields)
        blocks["conditions"] = state
        proofs += main_proofs
    if topic.rules:
        best = State.FALSE
        for rule in topic.rules:
            rule_state, rule_proofs = evaluate_block(ctx, rule, fields)
            blocks[rule.rule.rstrip(".")] = rule_state
            best = max(best, rule_state)
            if rule_state == State.TRUE:
                proofs += rule_proofs
        state = min(state, best)
    veto = State.FALSE
    for exclusion in topic.exclude:
        excl_state, _ = evaluate_block(ctx, exclusion, fields)
        blocks[exclusion.rule.rstrip(".")] = excl_state
        veto = max(veto, excl_state)
    if veto == State.TRUE:
        state = State.FALSE
    elif veto == State.UNKNOWN and state != State.FALSE:
        state = State.UNKNOWN
    return TopicOutcome(state, proofs, blocks)  # proofs of what held, even without a match


def excluded(ctx: ArticleContext, topic: CompiledTopic) -> State:
    """Whether one of the topic's ``exclude`` blocks holds (three-valued)."""
    veto = State.FALSE
    for exclusion in topic.exclude:
        veto = max(veto, evaluate_block(ctx, exclusion, topic.fields)[0])
    return veto
