"""The detector: a watchlist compiled once, then many articles checked against it, fast.

Per batch of articles:

1. every field a topic looks at is normalised and tokenized (tokenizer only, batched), a
   rule-based sentencizer marks sentences when some rule needs them, and two phrase matchers (lower
   case, exact case) plus the regex terms find every atom of the watchlist;
2. every topic is evaluated over those hits (three-valued: the NER may still be needed);
3. the statistical NER runs only on the articles where some topic is still undecided, and on the
   articles that matched (to list their entities), and only on the fields the topics use;
4. undecided topics are decided;
5. the semantic stage (topics with ``examples``): articles that some such topic did not match by
   its rules but whose gate holds are embedded (title and lead, in batches) and compared with the
   topic's examples and counter-examples; a close enough article matches, one just below the
   threshold is a near miss;
6. each match gets its evidence, a snippet and a score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from monitors.article import ArticleText
from monitors.compiled import CompiledTopic, CompiledWatchlist, compile_watchlist
from monitors.evaluate import (
    MAX_HITS,
    ArticleContext,
    FieldView,
    Hit,
    Proof,
    Span,
    State,
    TopicOutcome,
    evaluate_block,
    evaluate_topic,
    excluded,
)
from monitors.explain import BlockReport, explain_topic, partial_rule
from monitors.normalize import MAX_MATCH_CHARS, normalize_text
from monitors.results import DetectionResult, Entity, Evidence, Match, NearMiss
from monitors.schema import NAME_LABELS
from monitors.semantic import SemanticScore, SemanticScorer
from wirewatch.errors import ModelError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from monitors.embedding import Embedder
    from monitors.watchlist import Watchlist

#: Per article, the semantic scores of the topics that were scored, by topic id.
Scores = dict[str, SemanticScore]

#: Longest text kept per field before matching (characters after normalisation).
FIELD_LIMITS = {"title": 2_000, "summary": 20_000, "content": MAX_MATCH_CHARS}
#: Tokens of one field the NER reads (its memory and time grow with length).
NER_MAX_TOKENS = 5_000
#: Tokens per article the NER reads only to list entities for an alert (its lead is enough).
ENRICH_MAX_TOKENS = 150
SNIPPET_CHARS = 240
#: Entity labels worth listing in an alert (numbers and dates are noise there).
LISTED_LABELS = frozenset(NAME_LABELS)
MAX_ENTITIES = 30
EntityMode = Literal["matched", "always", "never"]
#: The ``rule`` of the evidence of a semantic match (its ``text`` says "similar to example 3").
SEMANTIC_RULE = "semantic"


@dataclass(frozen=True)
class TopicExplanation:
    """Why a topic did or did not match one article (``wirewatch watchlist test``)."""

    topic: str
    matched: bool
    blocks: dict[str, str]
    evidence: tuple[Evidence, ...]
    rules: tuple[BlockReport, ...] = ()  # each block, condition by condition: found / missing
    semantic: SemanticScore | None = None  # topics with examples: the score, gate or not


class Detector:
    """Decides which topics of a watchlist each article is about.

    ``nlp`` is a loaded spaCy pipeline (its tokenizer always runs; its ``ner`` only when needed;
    ``spacy.blank("en")`` is enough for watchlists without ``entity_types`` rules). ``entities``
    says for which articles the NER lists entities: ``matched`` (default), ``always`` or
    ``never`` (watched entities found by alias are always listed).
    """

    def __init__(
        self,
        watchlist: Watchlist,
        nlp: Language,
        *,
        entities: EntityMode = "matched",
        batch_size: int = 128,
        memory_zone: bool = True,
        embedder: Embedder | None = None,
    ) -> None:
        self.watchlist = watchlist
        self.version = watchlist.version
        self._nlp = nlp
        self._entities = entities
        self._batch_size = batch_size
        self._memory_zone = memory_zone
        self._compiled: CompiledWatchlist = compile_watchlist(watchlist, nlp)
        self._ner_steps = self._ner_components(nlp)
        needing = [t.id for t in self._compiled.topics if t.needs_ner()]
        if needing and not self._ner_steps:
            msg = (
                f"topics {', '.join(needing)} use entity_types, but the spaCy pipeline "
                f"has no 'ner' component (pipes: {nlp.pipe_names})"
            )
            raise ModelError(msg)
        self._sentencizer: Any = None
        if self._compiled.needs_sentences:
            from spacy.pipeline import Sentencizer

            self._sentencizer = Sentencizer()
        self._scorer: SemanticScorer | None = None
        if any(topic.semantic is not None for topic in self._compiled.topics):
            if embedder is None:
                from monitors.embedding import load_embedder

                embedder = load_embedder()
            self._scorer = SemanticScorer(self._compiled.topics, embedder)
        #: Articles embedded by the semantic stage since this detector was built (bench figure).
        self.semantic_articles = 0

    @staticmethod
    def _ner_components(nlp: Language) -> list[Any]:
        """The ``ner`` component and any shared embedding layer it listens to, in order."""
        if "ner" not in nlp.pipe_names:
            return []
        return [
            proc
            for name, proc in nlp.pipeline
            if name == "ner" or "ner" in getattr(proc, "listener_map", {})
        ]

    @property
    def stats(self) -> dict[str, int]:
        """Size of the compiled watchlist (atoms, phrase patterns, regexes, topics)."""
        c = self._compiled
        return {
            "topics": len(c.topics),
            "atoms": c.atom_count,
            "patterns": c.pattern_count,
            "regexes": len(c.regexes),
        }

    # --- public API ---

    def detect(self, article: ArticleText) -> DetectionResult:
        """Detect the topics of one article."""
        return self.detect_many([article])[0]

    def detect_many(self, articles: Sequence[ArticleText]) -> list[DetectionResult]:
        """Detect the topics of many articles (batched; results in input order)."""
        results: list[DetectionResult] = []
        with self._zone():
            for start in range(0, len(articles), self._batch_size):
                batch = articles[start : start + self._batch_size]
                for article, ctx, outcomes, scores in zip(batch, *self._run(batch), strict=True):
                    results.append(self._result(article, ctx, outcomes, scores))
        return results

    def semantic_scores(self, articles: Sequence[ArticleText]) -> list[Scores]:
        """The semantic score of every article against every topic that has examples.

        Returns one ``dict[topic id, SemanticScore]`` per article, in input order (empty dicts
        when no topic has examples). Every article is embedded, whether or not a gate holds, so
        that an evaluation can sweep thresholds; each :class:`SemanticScore` says whether the
        gate held (``gated``), the best example (``example``, from 1) and its ``similarity``,
        the closest counter-example and whether it vetoes (``vetoed``), whether the topic's own
        rules matched (``rule_match``) and whether an ``exclude`` block holds (``excluded``).
        Detection matches a topic when ``rule_match or score.matches``.
        """
        if self._scorer is None:
            return [{} for _ in articles]
        out: list[Scores] = []
        with self._zone():
            for start in range(0, len(articles), self._batch_size):
                batch = articles[start : start + self._batch_size]
                contexts, outcomes = self._rules(batch)
                vectors = self._scorer.embed(batch)
                for index, vector in enumerate(vectors):
                    out.append(self._scores(contexts[index], outcomes[index], vector))
        return out

    def explain(self, article: ArticleText) -> list[TopicExplanation]:
        """Every topic's answer for one article, with each rule's state and the evidence."""
        with self._zone():
            contexts, outcome_lists, _ = self._run([article], force_ner=True)
            ctx, outcomes = contexts[0], outcome_lists[0]
            scores: Scores = {}
            if self._scorer is not None:
                scores = self._scores(ctx, outcomes, self._scorer.embed([article])[0])
            return [
                TopicExplanation(
                    topic=topic.id,
                    matched=outcome.state == State.TRUE or scores.get(topic.id, _NONE).matches,
                    blocks={name: state.name.lower() for name, state in outcome.blocks.items()},
                    evidence=self._evidence(ctx, outcome.proofs),
                    rules=explain_topic(ctx, topic),
                    semantic=scores.get(topic.id),
                )
                for topic, outcome in zip(self._compiled.topics, outcomes, strict=True)
            ]

    # --- the passes ---

    def _zone(self) -> AbstractContextManager[Any]:
        # spaCy 3.8: strings interned while processing are freed afterwards (a long-running
        # worker would otherwise grow its StringStore with every new word it ever saw). The price:
        # words new to the vocabulary are looked up again in every call.
        zone = getattr(self._nlp, "memory_zone", None) if self._memory_zone else None
        return zone() if zone is not None else nullcontext()

    def _run(
        self, articles: Sequence[ArticleText], force_ner: bool = False
    ) -> tuple[list[ArticleContext], list[list[TopicOutcome]], list[Scores]]:
        contexts, outcomes = self._rules(articles, force_ner)
        scores = self._semantic_pass(articles, contexts, outcomes)
        # A short lead through the NER where it only lists the entities of a matched article.
        enrich = [
            index
            for index, topic_outcomes in enumerate(outcomes)
            if contexts[index].ner is None
            and (
                self._entities == "always"
                or (
                    self._entities == "matched"
                    and (
                        any(o.state == State.TRUE for o in topic_outcomes)
                        or any(score.matches for score in scores[index].values())
                    )
                )
            )
        ]
        if enrich and self._ner_steps:
            self._ner_pass([(contexts[index], ENRICH_MAX_TOKENS) for index in enrich])
        return contexts, outcomes, scores

    def _rules(
        self, articles: Sequence[ArticleText], force_ner: bool = False
    ) -> tuple[list[ArticleContext], list[list[TopicOutcome]]]:
        """The cheap pass, every topic's rules, and the full NER where a rule still needs it."""
        contexts = self._cheap_pass(articles)
        topics = self._compiled.topics
        outcomes = [[evaluate_topic(ctx, topic) for topic in topics] for ctx in contexts]
        wanted = [
            index
            for index, topic_outcomes in enumerate(outcomes)
            if force_ner or any(o.state == State.UNKNOWN for o in topic_outcomes)
        ]
        if wanted and self._ner_steps:
            self._ner_pass([(contexts[index], None) for index in wanted])
            for index in wanted:
                outcomes[index] = [
                    evaluate_topic(contexts[index], topic)
                    if outcome.state == State.UNKNOWN
                    else outcome
                    for topic, outcome in zip(topics, outcomes[index], strict=True)
                ]
        return contexts, outcomes

    # --- the semantic stage ---

    def _gate_holds(self, ctx: ArticleContext, topic: CompiledTopic) -> bool:
        semantic = topic.semantic
        assert semantic is not None
        if semantic.gate_atoms.isdisjoint(ctx.hits) and not semantic.gate.needs_ner():
            return False
        # UNKNOWN (an entity_types gate before the NER ran) opens the gate: the model decides.
        return evaluate_block(ctx, semantic.gate, topic.fields)[0] != State.FALSE

    def _semantic_pass(
        self,
        articles: Sequence[ArticleText],
        contexts: list[ArticleContext],
        outcomes: list[list[TopicOutcome]],
    ) -> list[Scores]:
        """Embed only the articles that some topic did not match by rules but whose gate holds."""
        scores: list[Scores] = [{} for _ in articles]
        if self._scorer is None:
            return scores
        candidates = [
            index
            for index, ctx in enumerate(contexts)
            if any(
                topic.semantic is not None
                and outcome.state != State.TRUE
                and self._gate_holds(ctx, topic)
                for topic, outcome in zip(self._compiled.topics, outcomes[index], strict=True)
            )
        ]
        if not candidates:
            return scores
        self.semantic_articles += len(candidates)
        vectors = self._scorer.embed([articles[index] for index in candidates])
        for index, vector in zip(candidates, vectors, strict=True):
            scores[index] = {
                topic_id: score
                for topic_id, score in self._scores(
                    contexts[index], outcomes[index], vector
                ).items()
                if score.gated and not score.rule_match
            }
        return scores

    def _scores(self, ctx: ArticleContext, outcomes: list[TopicOutcome], vector: Any) -> Scores:
        assert self._scorer is not None
        scores: Scores = {}
        for topic, outcome in zip(self._compiled.topics, outcomes, strict=True):
            if topic.semantic is None:
                continue
            scores[topic.id] = self._scorer.score(
                topic.id,
                vector,
                gated=self._gate_holds(ctx, topic),
                rule_match=outcome.state == State.TRUE,
                excluded=excluded(ctx, topic) == State.TRUE,
            )
        return scores

    def _cheap_pass(self, articles: Sequence[ArticleText]) -> list[ArticleContext]:
        contexts = [ArticleContext(fields={}, hits={}, watched=[]) for _ in articles]
        texts: list[str] = []
        owners: list[tuple[int, str]] = []
        for index, article in enumerate(articles):
            for name in self._compiled.fields:
                text = normalize_text(article.field(name), max_chars=FIELD_LIMITS[name])
                if text:
                    texts.append(text)
                    owners.append((index, name))
        tokenizer: Any = self._nlp.tokenizer
        docs: Iterator[Doc] = tokenizer.pipe(texts, batch_size=self._batch_size)
        for doc, (index, name), text in zip(docs, owners, texts, strict=True):
            ctx = contexts[index]
            ctx.fields[name] = FieldView(name, text, doc, self._sentencizer)
            self._collect_hits(ctx, name, doc, text)
        return contexts

    def _collect_hits(self, ctx: ArticleContext, name: str, doc: Doc, text: str) -> None:
        compiled = self._compiled
        counts: dict[int, int] = {}
        found: list[Hit] = []
        for matcher in (compiled.lower_matcher, compiled.exact_matcher):
            if not len(matcher):
                continue
            for key, start, end in matcher(doc):
                atom = compiled.key_atoms[key]
                counts[atom] = counts.get(atom, 0) + 1
                if counts[atom] <= MAX_HITS:
                    span = doc[start:end]
                    found.append(Hit(atom, name, start, end, span.start_char, span.end_char))
        for atom, pattern in compiled.regexes:
            for number, m in enumerate(pattern.finditer(text)):
                if number >= MAX_HITS:
                    break
                found_span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
                if found_span is not None and m.end() > m.start():
                    found.append(
                        Hit(atom, name, found_span.start, found_span.end, m.start(), m.end())
                    )
        found.sort(key=lambda h: (h.start, h.end))
        for hit in found:
            ctx.hits.setdefault(hit.atom, []).append(hit)
            entity = compiled.atom_entity.get(hit.atom)
            if entity is not None:
                ctx.watched.append(
                    Span(
                        entity[1], name, hit.start, hit.end, hit.char_start, hit.char_end, hit.atom
                    )
                )

    def _ner_pass(self, jobs: list[tuple[ArticleContext, int | None]]) -> None:
        views: list[FieldView] = []
        owners: list[ArticleContext] = []
        limits: list[int] = []
        for ctx, budget in jobs:
            ctx.ner = []
            left = budget if budget is not None else len(ctx.fields) * NER_MAX_TOKENS
            for view in ctx.fields.values():
                limit = min(len(view.doc), NER_MAX_TOKENS, left)
                if limit <= 0:
                    break
                views.append(view)
                owners.append(ctx)
                limits.append(limit)
                left -= limit
        docs: Any = (
            view.doc[:limit].as_doc() if limit < len(view.doc) else view.doc
            for view, limit in zip(views, limits, strict=True)
        )
        for step in self._ner_steps:
            docs = step.pipe(docs, batch_size=self._batch_size)
        for doc, view, ctx in zip(docs, views, owners, strict=True):
            assert ctx.ner is not None
            ctx.ner += [
                Span(ent.label_, view.name, ent.start, ent.end, ent.start_char, ent.end_char)
                for ent in doc.ents
            ]

    # --- results ---

    def _result(
        self,
        article: ArticleText,
        ctx: ArticleContext,
        outcomes: list[TopicOutcome],
        scores: Scores,
    ) -> DetectionResult:
        matches: list[Match] = []
        near_misses: list[NearMiss] = []
        for topic, outcome in zip(self._compiled.topics, outcomes, strict=True):
            score = scores.get(topic.id)
            if outcome.state == State.TRUE:
                match = self._match(topic, ctx, outcome.proofs)
                if match.score >= topic.min_score:
                    matches.append(match)
            elif score is not None and score.matches:
                matches.append(self._semantic_match(ctx, score))
            elif score is not None and score.near_miss:
                detail = (
                    f"similar to example {score.example} "
                    f"({score.similarity:.2f}, threshold {score.threshold:.2f})"
                )
                near_misses.append(
                    NearMiss(
                        topic.id,
                        "semantic",
                        detail,
                        round(score.similarity, 4),
                        score.threshold,
                    )
                )
            elif outcome.state == State.FALSE and topic.partial_near_misses:
                detail = partial_rule(ctx, topic, outcome.blocks)
                if detail:
                    near_misses.append(NearMiss(topic.id, "partial_rule", detail))
        return DetectionResult(
            article.id, tuple(matches), self._entities_of(ctx), tuple(near_misses)
        )

    def _semantic_match(self, ctx: ArticleContext, score: SemanticScore) -> Match:
        """A match by meaning: its one evidence item says which example and how close."""
        lead = next((ctx.fields[n].text for n in ("summary", "content") if n in ctx.fields), "")
        title = ctx.fields["title"].text if "title" in ctx.fields else ""
        return Match(
            topic=score.topic,
            evidence=(Evidence(score.why(), "", 0, 0, SEMANTIC_RULE),),
            snippet=make_snippet(lead, 0, 0) if lead else make_snippet(title, 0, 0),
            watchlist_version=self.version,
            score=round(score.similarity, 3),
        )

    def _evidence(self, ctx: ArticleContext, proofs: list[Proof]) -> tuple[Evidence, ...]:
        unique = dict.fromkeys(proofs)
        return tuple(
            Evidence(
                text=ctx.fields[p.field].text[p.char_start : p.char_end],
                field=p.field,
                start=p.char_start,
                end=p.char_end,
                rule=p.rule,
            )
            for p in unique
        )

    def _match(self, topic: CompiledTopic, ctx: ArticleContext, proofs: list[Proof]) -> Match:
        evidence = self._evidence(ctx, proofs)
        places = {(e.field, e.start, e.end) for e in evidence}
        score = sum(topic.title_weight if f == "title" else 1.0 for f, _, _ in places)
        return Match(
            topic=topic.id,
            evidence=evidence,
            snippet=self._snippet(ctx, evidence),
            watchlist_version=self.version,
            score=round(score, 3),
        )

    def _snippet(self, ctx: ArticleContext, evidence: tuple[Evidence, ...]) -> str:
        # The title is shown by every alert anyway: prefer a window of the summary or content,
        # centred on the evidence with the most other evidence around it.
        body = [e for e in evidence if e.field != "title"] or list(evidence)
        if not body:
            return ""
        half = SNIPPET_CHARS // 2

        def density(item: Evidence) -> int:
            return sum(
                1
                for other in body
                if other.field == item.field and abs(other.start - item.start) <= half
            )

        best = max(body, key=lambda e: (density(e), -e.start))
        return make_snippet(ctx.fields[best.field].text, best.start, best.end)

    def _entities_of(self, ctx: ArticleContext) -> tuple[Entity, ...]:
        listed: dict[tuple[str, str], Entity] = {}
        covered: set[str] = set()
        for span in ctx.watched:
            entity = self._compiled.atom_entity.get(span.atom)
            text = ctx.fields[span.field].text[span.char_start : span.char_end]
            covered.add(text.lower())
            if entity is not None:
                covered.add(entity[0].lower())
                listed.setdefault((entity[0].lower(), entity[1]), Entity(entity[0], entity[1]))
        for span in ctx.ner or ():
            text = ctx.fields[span.field].text[span.char_start : span.char_end]
            if span.label not in LISTED_LABELS or text.lower() in covered:
                continue
            listed.setdefault((text.lower(), span.label), Entity(text, span.label))
        return tuple(listed.values())[:MAX_ENTITIES]


_NONE = SemanticScore("", 0.0, 0, None, None, False, False, 1.0, 0.0)


def make_snippet(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around ``[start, end)``, cut at word boundaries."""
    if len(text) <= width:
        return text
    middle = (start + end) // 2
    low = max(0, min(middle - width // 2, len(text) - width))
    high = min(len(text), low + width)
    if low > 0:
        space = text.find(" ", low)
        if 0 <= space < start:
            low = space + 1
    if high < len(text):
        space = text.rfind(" ", end, high)
        if space > end:
            high = space
    return ("…" if low > 0 else "") + text[low:high].strip() + ("…" if high < len(text) else "")
