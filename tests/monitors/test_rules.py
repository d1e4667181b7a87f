"""Every rule kind of the watchlist language, on a tokenizer-only pipeline (no model needed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitors.detector import Detector
from tests.monitors.conftest import article, topics_yaml
from wirewatch.errors import ModelError

Make = Callable[..., Detector]


def topics_of(detector: Detector, title: str = "", summary: str = "", content: str = "") -> list:
    return list(detector.detect(article(title, summary, content)).topics())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Musk calls for a moratorium", True),
        ("Calls for an AI pause grow", True),
        ("Nothing to see here", False),
        ("Pausing is hard", False),  # not a term, and 'pause' was not given
    ],
)
def test_any(make_detector: Make, text: str, expected: bool) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [moratorium, AI pause]\n"))
    assert topics_of(detector, text) == (["t"] if expected else [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Twitter buys GPUs for a generative AI project", True),
        ("Twitter buys office chairs", False),  # first group only
        ("Startup buys GPUs", False),  # second group only
        ("X Corp trains a language model", True),  # another term of each group
    ],
)
def test_all_is_and_of_ors(make_detector: Make, text: str, expected: bool) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: t\n    all: [[Twitter, {text: X Corp, case_sensitive: true}],"
            " [GPU, language model]]\n"
        )
    )
    assert topics_of(detector, text) == (["t"] if expected else [])


def test_words_match_whole_tokens_only(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [pause]\n"))
    assert topics_of(detector, "Menopause research") == []
    assert topics_of(detector, "A pause, finally") == ["t"]


@pytest.mark.parametrize(
    "text",
    ["they pause", "it pauses", "it paused", "pausing now", "a PAUSE", "Pause."],
)
def test_inflections_match(make_detector: Make, text: str) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [pause]\n"))
    assert topics_of(detector, text) == ["t"]


def test_inflection_of_phrases_and_stop_doubling(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [stop training, language model]\n"))
    assert topics_of(detector, "Labs stopped training") == ["t"]
    assert topics_of(detector, "two large language models") == ["t"]


def test_inflect_false_and_forms(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: exact\n    any: [{text: pause, inflect: false}]\n"
            "  - id: irregular\n    any: [{text: moratorium, forms: [moratoria]}]\n"
        )
    )
    assert topics_of(detector, "it paused") == []
    assert topics_of(detector, "it pause") == ["exact"]
    assert topics_of(detector, "calls for moratoria") == ["irregular"]
    assert topics_of(detector, "calls for moratoriums") == ["irregular"]


def test_case_sensitive_terms(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: ai\n    any: [{text: AI, case_sensitive: true}]\n"
            "  - id: x\n    any: [{text: X, case_sensitive: true}]\n"
        )
    )
    assert topics_of(detector, "New AI rules") == ["ai"]
    assert topics_of(detector, "Rising AIs") == ["ai"]  # case-sensitive terms keep a plural
    assert topics_of(detector, "ai, Ai and aI") == []
    assert topics_of(detector, "Musk renames Twitter to X") == ["x"]
    assert topics_of(detector, "the x axis") == []


def test_case_insensitive_by_default(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [OpenAI]\n"))
    assert topics_of(detector, "OPENAI and openai") == ["t"]


def test_regex_terms(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: gpt\n    any: [{regex: '\\bGPT-\\d(\\.\\d)?\\b', case_sensitive: true}]\n"
            "  - id: loose\n    any: [{regex: 'tongyi\\s+qianwen'}]\n"
        )
    )
    result = detector.detect(article("Beyond GPT-4 and GPT-3.5", "Tongyi  Qianwen launched"))
    assert result.topics() == ("gpt", "loose")
    gpt = result.matches[0]
    assert [e.text for e in gpt.evidence] == ["GPT-4", "GPT-3.5"]
    assert topics_of(detector, "gpt-4") == []


def test_exclusion_vetoes(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: t\n    any: [pause]\n    exclude:\n      - advertisers\n"
            "      - near: {terms: [[pause], [ads]], within: 3}\n"
        )
    )
    assert topics_of(detector, "Calls to pause AI") == ["t"]
    assert topics_of(detector, "Advertisers pause spending") == []
    assert topics_of(detector, "Brands pause their Twitter ads") == []
    assert topics_of(detector, "Pause AI now, says a letter; separately, many brands cut ads") == [
        "t"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Musk wants a pause on AI", True),  # 2 words between
        ("pause AI", True),
        ("AI labs should, everyone agrees, pause", True),  # order does not matter
        ("pause one two three four five six AI", False),  # 6 words between
        ("pause one two three four AI", True),  # punctuation is not counted as words
    ],
)
def test_near_within_words(make_detector: Make, text: str, expected: bool) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    near: {terms: [pause, AI], within: 4}\n"))
    assert topics_of(detector, text) == (["t"] if expected else [])


def test_near_counts_words_not_punctuation(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    near: {terms: [pause, AI], within: 2}\n"))
    assert topics_of(detector, "pause -- (now!) -- AI") == ["t"]
    assert topics_of(detector, "pause, now, then, AI") == ["t"]
    assert topics_of(detector, "pause, now, then, later, AI") == []


def test_near_three_groups_and_field_boundaries(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml("  - id: t\n    near: {terms: [Musk, [GPU, GPUs], buy], within: 5}\n")
    )
    assert topics_of(detector, "Musk buys 10,000 GPUs") == ["t"]
    assert topics_of(detector, "Musk buys", "GPUs") == []  # never across fields


def test_same_sentence(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: t\n    same_sentence: [[pause, halt], [AI, artificial intelligence]]\n"
        )
    )
    assert topics_of(detector, "", "They call to halt AI experiments. More later.") == ["t"]
    assert topics_of(detector, "", "They call for a halt. AI is elsewhere.") == []
    assert topics_of(detector, "", "Long text. " * 50 + "Pause all artificial intelligence.") == [
        "t"
    ]


def test_rules_are_alternatives_and_topic_conditions_must_also_hold(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: t\n    any: [Baidu, Alibaba]\n"
            "    rules:\n      - any: [chatbot]\n      - any: [language model]\n"
        )
    )
    assert topics_of(detector, "Baidu launches a chatbot") == ["t"]
    assert topics_of(detector, "Alibaba unveils a language model") == ["t"]
    assert topics_of(detector, "Baidu profits rise") == []
    assert topics_of(detector, "A chatbot from a startup") == []


def test_watched_entities_by_alias_without_ner(make_detector: Make) -> None:
    text = topics_yaml(
        "  - id: t\n    entities: [elon-musk]\n",
        "  elon-musk: {label: PERSON, aliases: [Elon Musk, Musk, '@elonmusk']}\n"
        "  twitter: {label: ORG, aliases: [Twitter, {text: X Corp, case_sensitive: true}]}\n",
    )
    detector = make_detector(text)  # blank pipeline: no NER at all
    result = detector.detect(article("Tweets by @elonmusk about X Corp"))
    assert result.topics() == ("t",)
    assert [(e.text, e.label) for e in result.entities] == [
        ("Elon Musk", "PERSON"),
        ("Twitter", "ORG"),
    ]
    assert result.matches[0].evidence[0].text == "@elonmusk"
    assert topics_of(detector, "Musk's plans") == ["t"]  # possessive split off by the tokenizer
    assert topics_of(detector, "Muskrat population") == []
    assert detector.detect(article("The x corp")).entities == ()  # case-sensitive alias


def test_entity_terms_in_groups(make_detector: Make) -> None:
    text = topics_yaml(
        "  - id: t\n    near: {terms: [{entity: twitter}, [AI, chatbot]], within: 6}\n",
        "  twitter: {label: ORG, aliases: [Twitter, {text: X Corp, case_sensitive: true}]}\n",
    )
    detector = make_detector(text)
    assert topics_of(detector, "X Corp is building a chatbot") == ["t"]
    assert topics_of(detector, "Twitter layoffs continue") == []


def test_entity_types_refuse_a_pipeline_without_ner(make_detector: Make) -> None:
    text = topics_yaml("  - id: t\n    entity_types: {labels: [PERSON]}\n")
    with pytest.raises(ModelError, match="topics t use entity_types, but the spaCy pipeline"):
        make_detector(text)


def test_fields_restrict_where_terms_count(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [moratorium]\n    fields: [title]\n"))
    assert topics_of(detector, "A moratorium") == ["t"]
    assert topics_of(detector, "News", "A moratorium", "A moratorium") == []


def test_title_weight_score_and_min_score(make_detector: Make) -> None:
    detector = make_detector(
        topics_yaml(
            "  - id: t\n    any: [moratorium]\n    title_weight: 3\n"
            "  - id: strict\n    any: [moratorium]\n    min_score: 3\n    title_weight: 1\n"
        )
    )
    title_only = detector.detect(article("Moratorium now"))
    assert [(m.topic, m.score) for m in title_only.matches] == [("t", 3.0)]
    both = detector.detect(article("Moratorium", "A moratorium, a moratorium, a moratorium."))
    assert [(m.topic, m.score) for m in both.matches] == [("t", 6.0), ("strict", 4.0)]


def test_evidence_offsets_point_into_the_normalised_field(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    all: [[pause], [AI]]\n"))
    summary = "<p>Labs &amp; experts call to <b>pa\u200buse</b> giant AI work.</p>"
    match = detector.detect(article("Title", summary)).matches[0]
    normalised = "Labs & experts call to pause giant AI work."
    assert [(e.text, e.field, e.rule) for e in match.evidence] == [
        ("pause", "summary", "all"),
        ("AI", "summary", "all"),
    ]
    for evidence in match.evidence:
        assert normalised[evidence.start : evidence.end] == evidence.text
    assert match.snippet == normalised


def test_snippet_is_a_short_window_around_the_densest_evidence(make_detector: Make) -> None:
    detector = make_detector(topics_yaml("  - id: t\n    any: [moratorium, pause]\n"))
    filler = "Nothing relevant in this sentence at all. " * 20
    content = filler + "One moratorium. " + filler + "A pause and a moratorium here. " + filler
    match = detector.detect(article("Headline", "", content)).matches[0]
    assert "A pause and a moratorium here." in match.snippet
    assert len(match.snippet) <= 250
    assert match.snippet.startswith("…") and match.snippet.endswith("…")
