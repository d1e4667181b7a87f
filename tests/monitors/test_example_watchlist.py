"""The shipped example watchlist: it validates, finds the seed article, skips hard negatives and
keeps its precision and recall on the labelled development set (eval/devset/NOTES.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitors.article import ArticleText
from monitors.detector import Detector
from monitors.evaluation import evaluate
from monitors.watchlist import load_watchlist, parse_watchlist

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "watchlists" / "example.yaml"
DEVSET = ROOT / "eval" / "devset"
TOPICS = {"ai-moratorium", "twitter-ai", "china-llm"}

# Figures reached on the whole development set when the watchlist was tuned (NOTES.md), minus a
# small margin: a drop below these means a change to the watchlist or the detection core lost
# alerts or added false ones. Raise them when the watchlist gets better.
FLOORS = {
    "ai-moratorium": {"precision": 0.95, "recall": 0.97},
    "twitter-ai": {"precision": 0.95, "recall": 0.97},
    "china-llm": {"precision": 0.95, "recall": 0.97},
}

# Written hard negatives (articles.jsonl) and real corpus items that must stay silent: each is
# the kind of text the topic definitions exclude.
HARD_NEGATIVES = [
    "dev-0025",  # General Motors pauses advertising on Twitter
    "dev-0026",  # advertisers pause spending on Twitter
    "dev-0027",  # EU AI Act: regulation with no pause angle
    "dev-0038",  # Zoom pauses use of customer data for AI training (privacy, not a moratorium)
    "dev-0069",  # Tesla FSD beta
    "dev-0070",  # Tesla Optimus robot
    "dev-0071",  # Musk: AI is one of the biggest risks (commentary)
    "dev-0075",  # Twitter's ad revenue (business news)
    "dev-0114",  # Baidu Apollo robotaxis (Chinese AI, not an LLM)
    "dev-0121",  # OpenAI GPT-4 (Western LLM)
    "dev-0137",  # Kimi Raikkonen
    "dev-0138",  # Sesame Street's Ernie
    "dev-0181",  # Meta pauses training on Europeans' posts (privacy)
    "hnf-58ef07f8a190",  # General Mills, Audi pause Twitter ads (corpus)
    "hnf-cc13efe87073",  # Tesla criminal probe over self-driving claims (corpus)
    "swb-570dda1c4971",  # bots on Twitter driven by GPT models (corpus)
]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _article(row: dict[str, Any]) -> ArticleText:
    return ArticleText(
        id=row["id"],
        title=row.get("title") or "",
        summary=row.get("summary") or "",
        content=row.get("content") or "",
        link=row.get("link") or "",
        source=row.get("source") or "",
    )


@pytest.fixture(scope="module")
def detector(blank_nlp: Any) -> Detector:
    """The example watchlist compiled once (it has no entity_types rules: no NER needed; its
    examples load the sentence-embedding model)."""
    return Detector(load_watchlist(EXAMPLE), blank_nlp, entities="never")


@pytest.fixture(scope="module")
def devset(corpus_dir: Path) -> tuple[list[ArticleText], dict[str, set[str]]]:
    """Corpus items plus written articles, and every label for them."""
    rows = _read_jsonl(corpus_dir / "news" / "items.jsonl") + _read_jsonl(DEVSET / "articles.jsonl")
    labels: dict[str, set[str]] = {}
    for name in ("labels-corpus.jsonl", "labels-written.jsonl"):
        for row in _read_jsonl(DEVSET / name):
            labels[row["id"]] = set(row["topics"])
    return [_article(row) for row in rows], labels


def test_example_watchlist_validates() -> None:
    watchlist = load_watchlist(EXAMPLE)
    assert {topic.id for topic in watchlist.topics} == TOPICS
    for topic in watchlist.topics:
        # A channel per topic, and no @-mentions unless an operator opts in.
        assert topic.alert.channels
        assert topic.alert.mention is None


def test_every_article_of_the_devset_is_labelled(
    devset: tuple[list[ArticleText], dict[str, set[str]]],
) -> None:
    articles, labels = devset
    assert {a.id for a in articles} == set(labels)
    assert all(topics <= TOPICS for topics in labels.values())


@pytest.mark.model
def test_seed_article_is_about_the_moratorium_and_twitter_ai(
    detector: Detector, corpus_dir: Path
) -> None:
    title, _, body = (corpus_dir / "seed-article.txt").read_text(encoding="utf-8").partition("\n")
    result = detector.detect(ArticleText(id="seed", title=title, content=body))
    topics = {match.topic for match in result.matches}
    # The seed also mentions Tongyi Qianwen in a closing "related" line; whether that alone is
    # worth a china-llm alert is left open, so only the two topics it is about are asserted.
    assert {"ai-moratorium", "twitter-ai"} <= topics
    for match in result.matches:
        assert match.evidence
        assert match.snippet


@pytest.mark.model
@pytest.mark.parametrize("article_id", HARD_NEGATIVES)
def test_hard_negative_matches_no_topic(
    detector: Detector,
    devset: tuple[list[ArticleText], dict[str, set[str]]],
    article_id: str,
) -> None:
    articles, labels = devset
    assert labels[article_id] == set()
    article = next(a for a in articles if a.id == article_id)
    assert detector.detect(article).matches == ()


@pytest.mark.model
def test_devset_precision_and_recall_stay_above_the_floors(
    detector: Detector, devset: tuple[list[ArticleText], dict[str, set[str]]]
) -> None:
    articles, labels = devset
    report = evaluate(detector, articles, labels)
    assert not report.unknown_label_topics
    scores = {score.topic: score for score in report.topics}
    assert set(scores) == TOPICS
    below = [
        f"{topic} {name} {getattr(scores[topic], name):.3f} < {floor}"
        for topic, floors in FLOORS.items()
        for name, floor in floors.items()
        if getattr(scores[topic], name) < floor
    ]
    assert not below, below
    # Every topic has positives to find in the set (the figures are not vacuous 1.0s).
    assert all(score.tp + score.fn >= 30 for score in scores.values())


# Phrasings the rules alone missed (issue 10) and texts the topic definitions exclude, written for
# this test (not taken from any labelled batch): (text, summary, expected topics).
PHRASINGS = [
    (
        "Tech leaders urge a slowdown in the race to build powerful artificial intelligence",
        "",
        {"ai-moratorium"},
    ),
    ("Musk launches an effort to fight woke AI", "", {"twitter-ai"}),
    ("Chinese company unveils its ChatGPT challenger", "", {"china-llm"}),
    # Musk signing the pause letter is the moratorium story, not Musk building AI.
    (
        "Elon Musk and Steve Wozniak among signatories of letter urging pause on giant AI "
        "experiments",
        "The letter asks labs to halt training of systems more powerful than GPT-4.",
        {"ai-moratorium"},
    ),
    (
        "Groq chips promise faster AI inference than GPUs",
        "The chip startup Groq raised new funding for its language-processing units.",
        set(),
    ),
    (
        "How to write Grok patterns for Logstash",
        "Grok filters parse unstructured log data into fields.",
        set(),
    ),
    (
        "Voice-clone scam uses fake Elon Musk to sell crypto",
        "Scammers built a chatbot that imitates Musk's voice on livestreams.",
        set(),
    ),
    (
        "Hinton warns AI could wipe out humanity",
        "The AI pioneer said governments must take the risk seriously.",
        set(),
    ),
]


@pytest.mark.model
@pytest.mark.parametrize(("title", "summary", "expected"), PHRASINGS)
def test_new_phrasings_match_and_look_alikes_do_not(
    detector: Detector, title: str, summary: str, expected: set[str]
) -> None:
    result = detector.detect(ArticleText(id="p", title=title, summary=summary))
    assert set(result.topics()) == expected


def test_near_survives_two_hits_of_one_group_on_the_same_words(blank_nlp: Any) -> None:
    # The example watchlist once crashed near(): an entity alias and a term of the same group
    # both matched "Twitter", and sorting the hits compared Hit objects.
    text = """
entities:
  twitter:
    label: ORG
    aliases: [Twitter]
topics:
  - id: t
    near:
      terms: [[{entity: twitter}, Twitter], [model]]
      within: 3
"""
    detector = Detector(parse_watchlist(text, "test.yaml"), blank_nlp, entities="never")
    result = detector.detect(ArticleText(id="a", title="Twitter trains a model"))
    assert [match.topic for match in result.matches] == ["t"]
