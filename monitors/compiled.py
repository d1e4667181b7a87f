"""A watchlist compiled for matching: every term becomes phrase-matcher patterns or a regex.

Each distinct term spelling set (an *atom*) is matched once per article, however many topics use
it. Topics become :class:`CompiledTopic` trees of atom ids, so evaluation is set logic over hits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitors.inflect import phrase_forms
from monitors.normalize import normalize_text
from monitors.schema import Block, Semantic, Term, Topic

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.matcher import PhraseMatcher
    from spacy.tokens import Doc

    from monitors.watchlist import Watchlist


@dataclass(frozen=True, slots=True)
class CTerm:
    """A term as the atoms (spelling sets) any of which will do."""

    atoms: tuple[int, ...]
    label: str


CGroup = tuple[CTerm, ...]


@dataclass(frozen=True, slots=True)
class CEntityTypes:
    """An ``entity_types`` condition."""

    labels: frozenset[str]
    terms: tuple[CTerm, ...] | None


@dataclass(frozen=True, slots=True)
class CBlock:
    """A compiled condition block; ``rule`` prefixes the evidence (``rules[1].``)."""

    rule: str
    any: tuple[CTerm, ...] | None = None
    all: tuple[CGroup, ...] | None = None
    near: tuple[tuple[CGroup, ...], int] | None = None
    same_sentence: tuple[CGroup, ...] | None = None
    entities: tuple[CTerm, ...] | None = None
    entity_types: CEntityTypes | None = None

    def empty(self) -> bool:
        """Whether the block has no condition (a topic made only of ``rules``)."""
        return not any(
            (self.any, self.all, self.near, self.same_sentence, self.entities, self.entity_types)
        )

    def needs_ner(self) -> bool:
        """Whether the statistical NER can change this block's answer."""
        return self.entity_types is not None

    def needs_sentences(self) -> bool:
        """Whether sentence boundaries are needed."""
        return self.same_sentence is not None or (
            self.entity_types is not None and self.entity_types.terms is not None
        )


@dataclass(frozen=True, slots=True)
class CSemantic:
    """A topic's semantic stage: its texts, thresholds and the gate (a block that must hold).

    ``threshold`` is the least cosine similarity to the best example for a match; ``margin`` the
    window below it that makes a near miss; a counter-example vetoes when its similarity is at
    least the best example's minus ``counter_margin``.
    """

    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]
    threshold: float
    margin: float
    counter_margin: float
    gate: CBlock  # must hold (by default: any term or entity of the topic's own rules)
    gate_atoms: frozenset[int]  # no hit among them: the gate is shut (checked first, cheaply)


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    """A topic ready for evaluation."""

    id: str
    fields: tuple[str, ...]
    title_weight: float
    min_score: float
    main: CBlock
    rules: tuple[CBlock, ...]
    exclude: tuple[CBlock, ...]
    atoms: frozenset[int]  # every atom of the positive part: no hit among them, no match
    hitless: bool  # some positive block can hold without any hit (entity_types, no terms)
    partial_near_misses: bool = False  # report rules matched but for one part
    semantic: CSemantic | None = None  # None: the topic has no examples, rules alone decide

    def blocks(self) -> tuple[CBlock, ...]:
        """All blocks of the topic."""
        return (self.main, *self.rules, *self.exclude)

    def needs_ner(self) -> bool:
        """Whether some block needs the NER."""
        return any(block.needs_ner() for block in self.blocks())


@dataclass
class CompiledWatchlist:
    """Matchers for every atom, and the topics as atom trees."""

    topics: tuple[CompiledTopic, ...]
    lower_matcher: PhraseMatcher
    exact_matcher: PhraseMatcher
    key_atoms: dict[int, int]  # matcher key hash -> atom id
    regexes: list[tuple[int, re.Pattern[str]]]
    atom_entity: dict[int, tuple[str, str]]  # atom -> (entity display name, label)
    atom_count: int
    pattern_count: int
    needs_sentences: bool
    fields: tuple[str, ...]


class _Compiler:
    def __init__(self, watchlist: Watchlist, nlp: Language) -> None:
        from spacy.matcher import PhraseMatcher

        self.watchlist = watchlist
        self.nlp = nlp
        self.lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.atoms: dict[tuple[object, ...], int] = {}
        self.key_atoms: dict[int, int] = {}
        self.regexes: list[tuple[int, re.Pattern[str]]] = []
        self.atom_entity: dict[int, tuple[str, str]] = {}
        self.patterns = 0
        self.entity_terms: dict[str, CTerm] = {}

    # --- terms -> atoms ---

    def _words(self, text: str) -> list[str]:
        return [token.text for token in self.nlp.tokenizer(normalize_text(text))]

    def atom_for(self, term: Term, default_inflect: bool) -> int:
        if term.regex is not None:
            key: tuple[object, ...] = ("regex", term.regex, term.case_sensitive)
            if key not in self.atoms:
                atom = self.atoms[key] = len(self.atoms)
                flags = 0 if term.case_sensitive else re.IGNORECASE
                self.regexes.append((atom, re.compile(term.regex, flags)))
            return self.atoms[key]
        inflect = default_inflect if term.inflect is None else term.inflect
        spellings: set[tuple[str, ...]] = set()
        for text in (str(term.text), *term.forms):
            words = self._words(text)
            variants = (
                phrase_forms(words, case_sensitive=term.case_sensitive) if inflect else [words]
            )
            for variant in variants:
                if variant:
                    spellings.add(
                        tuple(variant) if term.case_sensitive else tuple(w.lower() for w in variant)
                    )
        key = ("phrase", term.case_sensitive, tuple(sorted(spellings)))
        if key not in self.atoms:
            atom = self.atoms[key] = len(self.atoms)
            matcher = self.exact if term.case_sensitive else self.lower
            name = f"wirewatch-atom-{atom}"
            self.key_atoms[self.nlp.vocab.strings.add(name)] = atom
            docs = [self._doc(list(words)) for words in sorted(spellings)]
            matcher.add(name, docs)
            self.patterns += len(docs)
        return self.atoms[key]

    def _doc(self, words: list[str]) -> Doc:
        from spacy.tokens import Doc

        return Doc(self.nlp.vocab, words=words, spaces=[True] * len(words))

    def entity(self, entity_id: str) -> CTerm:
        if entity_id not in self.entity_terms:
            entity = self.watchlist.entities[entity_id]
            display = str(entity.aliases[0].text)
            atoms = tuple(dict.fromkeys(self.atom_for(a, False) for a in entity.aliases))
            for atom in atoms:
                self.atom_entity.setdefault(atom, (display, entity.label))
            self.entity_terms[entity_id] = CTerm(atoms, f"entity:{entity_id}")
        return self.entity_terms[entity_id]

    def term(self, term: Term) -> CTerm:
        if term.entity is not None:
            return self.entity(term.entity)
        return CTerm((self.atom_for(term, True),), term.label)

    def group(self, terms: tuple[Term, ...]) -> CGroup:
        return tuple(self.term(t) for t in terms)

    # --- blocks and topics ---

    def block(self, block: Block, rule: str) -> CBlock:
        types = block.entity_types
        return CBlock(
            rule=rule,
            any=tuple(self.term(t) for t in block.any) if block.any else None,
            all=tuple(self.group(g) for g in block.all) if block.all else None,
            near=(
                (tuple(self.group(g) for g in block.near.terms), block.near.within)
                if block.near
                else None
            ),
            same_sentence=(
                tuple(self.group(g) for g in block.same_sentence) if block.same_sentence else None
            ),
            entities=tuple(self.entity(e) for e in block.entities) if block.entities else None,
            entity_types=(
                CEntityTypes(
                    frozenset(types.labels),
                    tuple(self.term(t) for t in types.same_sentence_as)
                    if types.same_sentence_as
                    else None,
                )
                if types
                else None
            ),
        )

    def topic(self, topic: Topic) -> CompiledTopic:
        main = self.block(topic, "")
        rules = tuple(self.block(r, f"rules[{i}].") for i, r in enumerate(topic.rules or ()))
        positive = (main, *rules)
        atoms = frozenset(atom for block in positive for atom in _block_atoms(block))
        return CompiledTopic(
            id=topic.id,
            fields=tuple(topic.fields or ("title", "summary", "content")),
            title_weight=float(topic.title_weight if topic.title_weight is not None else 2.0),
            min_score=topic.min_score,
            main=main,
            rules=rules,
            exclude=tuple(self.block(b, f"exclude[{i}].") for i, b in enumerate(topic.exclusions)),
            atoms=atoms,
            hitless=any(
                b.entity_types is not None and b.entity_types.terms is None for b in positive
            ),
            partial_near_misses=bool(topic.partial_rule_near_misses),
            semantic=self.semantic(topic, atoms),
        )

    def semantic(self, topic: Topic, rule_atoms: frozenset[int]) -> CSemantic | None:
        examples = topic.example_texts()
        if not examples:
            return None
        settings = topic.semantic or Semantic()
        written = settings.gate_block()
        gate = (
            self.block(written, "semantic.gate.")
            if written is not None
            # By default: any term or entity the topic's own conditions and rules use.
            else CBlock("semantic.gate.", any=(CTerm(tuple(sorted(rule_atoms)), "rule terms"),))
        )
        return CSemantic(
            examples=examples,
            counter_examples=topic.counter_example_texts(),
            threshold=settings.threshold,
            margin=settings.margin,
            counter_margin=settings.counter_margin,
            gate=gate,
            gate_atoms=frozenset(_block_atoms(gate)),
        )


def _block_atoms(block: CBlock) -> list[int]:
    terms: list[CTerm] = [*(block.any or ()), *(block.entities or ())]
    for groups in (block.all, block.same_sentence, block.near[0] if block.near else None):
        terms += [term for group in groups or () for term in group]
    if block.entity_types is not None:
        terms += block.entity_types.terms or ()
    return [atom for term in terms for atom in term.atoms]


def compile_watchlist(watchlist: Watchlist, nlp: Language) -> CompiledWatchlist:
    """Compile every topic and entity of ``watchlist`` against ``nlp``'s tokenizer and vocab."""
    compiler = _Compiler(watchlist, nlp)
    for entity_id in watchlist.entities:
        compiler.entity(entity_id)  # watched entities are listed even when no rule uses them
    topics = tuple(compiler.topic(topic) for topic in watchlist.topics)
    fields = tuple(
        name for name in ("title", "summary", "content") if any(name in t.fields for t in topics)
    )
    return CompiledWatchlist(
        topics=topics,
        lower_matcher=compiler.lower,
        exact_matcher=compiler.exact,
        key_atoms=compiler.key_atoms,
        regexes=compiler.regexes,
        atom_entity=compiler.atom_entity,
        atom_count=len(compiler.atoms),
        pattern_count=compiler.patterns,
        needs_sentences=any(b.needs_sentences() for t in topics for b in t.blocks()),
        fields=fields,
    )
