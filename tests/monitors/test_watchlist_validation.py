"""Watchlist validation: every kind of error, reported as ``file:line:col path: message``.

Each case is a small watchlist and the exact error lines it must produce (RELIABILITY 35, 36).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.watchlist import WatchlistError, load_watchlist, parse_watchlist
from tests.monitors.conftest import SAMPLE
from wirewatch.errors import ConfigError

ERROR_LINE = re.compile(r"^[^:]+:\d+:\d+ \S+: .+$")


def errors_of(text: str) -> list[str]:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist(text, "w.yaml")
    assert isinstance(caught.value, ConfigError)
    return caught.value.errors


CASES = [
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    nearr: {terms: [a, b], within: 3}\n",
        ["w.yaml:4:5 topics[0].nearr: unknown key (did you mean 'near'?)"],
        id="typo-key",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: []\n",
        ["w.yaml:3:10 topics[0].any: must not be empty"],
        id="empty-list",
    ),
    pytest.param("topics: []\n", ["w.yaml:1:9 topics: must not be empty"], id="no-topics"),
    pytest.param(
        "topics:\n  - id: t\n    entities: [acme]\n"
        "entities:\n  acme: {label: COMPANY, aliases: [Acme]}\n",
        [
            "w.yaml:5:17 entities.acme.label: unknown entity label 'COMPANY' (expected one of "
            "PERSON, NORP, FAC, ORG, GPE, LOC, PRODUCT, EVENT, WORK_OF_ART, LAW, LANGUAGE, "
            "DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL, CARDINAL)"
        ],
        id="unknown-entity-label",
    ),
    pytest.param(
        "topics:\n  - id: t\n    entity_types: {labels: [PEOPLE]}\n",
        [
            "w.yaml:3:29 topics[0].entity_types.labels[0]: unknown entity label 'PEOPLE' "
            "(expected one of PERSON, NORP, FAC, ORG, GPE, LOC, PRODUCT, EVENT, WORK_OF_ART, LAW, "
            "LANGUAGE, DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL, CARDINAL)"
        ],
        id="unknown-ner-label",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [{regex: 'GPT-(4'}]\n",
        [
            "w.yaml:3:19 topics[0].any[0].regex: invalid regular expression: "
            "missing ), unterminated subpattern at position 4"
        ],
        id="invalid-regex",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [{regex: 'a*'}]\n",
        ["w.yaml:3:19 topics[0].any[0].regex: regular expression matches the empty string"],
        id="empty-matching-regex",
    ),
    pytest.param(
        "topics:\n  - id: t\n    near: {terms: [pause, AI], within: 0}\n",
        ["w.yaml:3:40 topics[0].near.within: must be >= 1"],
        id="proximity-zero",
    ),
    pytest.param(
        "topics:\n  - id: t\n    near: {terms: [pause, AI], within: ten}\n",
        [
            "w.yaml:3:40 topics[0].near.within: input should be a valid integer, "
            "unable to parse string as an integer"
        ],
        id="proximity-not-a-number",
    ),
    pytest.param(
        "topics:\n  - id: t\n    near: {terms: [pause, AI]}\n",
        ["w.yaml:3:11 topics[0].near.within: required key missing"],
        id="proximity-missing",
    ),
    pytest.param(
        "topics:\n  - id: t\n    same_sentence: [[pause]]\n",
        ["w.yaml:3:20 topics[0].same_sentence: needs at least 2 items"],
        id="same-sentence-one-group",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [{text: AI, regex: AI}]\n",
        [
            "w.yaml:3:11 topics[0].any[0]: a term needs exactly one of text, regex, entity "
            "(got text, regex)"
        ],
        id="term-two-kinds",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: ['\u200b ']\n",
        ["w.yaml:3:11 topics[0].any[0]: must not be empty"],
        id="invisible-term",
    ),
    pytest.param(
        "topics:\n  - id: t\n    name: T\n",
        [
            "w.yaml:2:5 topics[0]: needs at least one condition (any, all, near, same_sentence, "
            "entities, entity_types) or rules"
        ],
        id="no-condition",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    rules: [{}]\n",
        [
            "w.yaml:4:13 topics[0].rules[0]: needs at least one condition (any, all, near, "
            "same_sentence, entities, entity_types)"
        ],
        id="empty-rule",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    exclude: [{nearr: 1}]\n",
        ["w.yaml:4:16 topics[0].exclude[0].nearr: unknown key (did you mean 'near'?)"],
        id="exclude-typo",
    ),
    pytest.param(
        "topics:\n  - id: Bad Id\n    any: [x]\n",
        [
            "w.yaml:2:9 topics[0].id: invalid id 'Bad Id' (lower-case letters, digits, '-' and "
            "'_'; at most 64)"
        ],
        id="bad-id",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n  - id: t\n    any: [y]\n",
        ["w.yaml:4:9 topics[1].id: duplicate topic id 't' (also topics[0])"],
        id="duplicate-topic",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    any: [y]\n",
        ["w.yaml:4:5 topics[0].any: duplicate key"],
        id="duplicate-key",
    ),
    pytest.param(
        "topics:\n  - id: t\n    entities: [musk]\nentities:\n"
        "  elon-musk: {label: PERSON, aliases: [Musk]}\n",
        ["w.yaml:3:16 topics[0].entities[0]: unknown entity 'musk' (did you mean 'elon-musk'?)"],
        id="unknown-entity-ref",
    ),
    pytest.param(
        "topics:\n  - id: t\n    all: [[{entity: twiter}], [AI]]\n",
        [
            "w.yaml:3:21 topics[0].all[0][0].entity: unknown entity 'twiter' "
            "(declare it under entities:)"
        ],
        id="unknown-entity-term",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\nentities:\n  e: {label: ORG, aliases: [{regex: X}]}\n",
        ["w.yaml:5:28 entities.e.aliases: aliases are plain text terms (no regex, no entity)"],
        id="regex-alias",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {mention: here}\n",
        [
            "w.yaml:4:22 topics[0].alert.mention: mention 'here' needs priority high (this topic "
            "is normal); or set mention_any_priority: true (not with low)"
        ],
        id="mention-needs-high",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {mention: everyone, priority: high}\n",
        [
            "w.yaml:4:22 topics[0].alert.mention: invalid mention 'everyone' (here, channel, or a "
            "user group subteam^S0123ABC)"
        ],
        id="bad-mention",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {priority: urgent}\n",
        ["w.yaml:4:23 topics[0].alert.priority: must be one of 'low', 'normal' or 'high'"],
        id="bad-priority",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {channels: []}\n",
        ["w.yaml:4:23 topics[0].alert.channels: must not be empty"],
        id="empty-channels",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {channels: ['General Chat']}\n",
        [
            "w.yaml:4:23 topics[0].alert.channels: invalid channel 'General Chat' (use #name in "
            "lower case, or a channel id)"
        ],
        id="bad-channel",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {muted_until: 2026-12-01 09:00:00}\n",
        [
            "w.yaml:4:26 topics[0].alert.muted_until: must include a time zone "
            "(for example 2026-12-01T09:00:00Z)"
        ],
        id="naive-muted-until",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {cooldown: 0s}\n",
        ["w.yaml:4:23 topics[0].alert.cooldown: must be > 0"],
        id="zero-cooldown",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    fields: [title, body]\n",
        ["w.yaml:4:21 topics[0].fields[1]: must be one of 'title', 'summary' or 'content'"],
        id="bad-field",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    title_weight: -1\n",
        ["w.yaml:4:19 topics[0].title_weight: must be >= 0"],
        id="negative-weight",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [no, 4.5]\n",
        [
            "w.yaml:3:11 topics[0].any[0]: YAML reads this term as False (bool): put it in quotes",
            "w.yaml:3:15 topics[0].any[1]: YAML reads this term as 4.5 (float): put it in quotes",
        ],
        id="yaml-typed-terms",
    ),
    pytest.param("format: 2\ntopics: []\n", None, id="format"),
    pytest.param(
        "",
        ["w.yaml:1:1 (document): must be a mapping with 'topics', not an empty document"],
        id="empty-file",
    ),
    pytest.param(
        "- a\n",
        ["w.yaml:1:1 (document): must be a mapping with 'topics', not a list"],
        id="not-a-mapping",
    ),
    pytest.param(
        "topics: [\n",
        ["w.yaml:2:1 (document): expected the node content, but found '<stream end>'"],
        id="yaml-syntax",
    ),
    pytest.param(
        "topics:\n  - id: t\n    any: [x]\n    alert: {cooldown: 5 minutes}\n",
        [
            "w.yaml:4:23 topics[0].alert.cooldown: input should be a valid timedelta, invalid "
            "character in hour"
        ],
        id="bad-cooldown",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_validation_error(text: str, expected: list[str] | None) -> None:
    errors = errors_of(text)
    if expected is None:
        assert len(errors) == 2, errors  # every problem, not only the first
    else:
        assert errors == expected
    assert all(ERROR_LINE.match(line) for line in errors), errors


def test_several_errors_are_reported_at_once() -> None:
    text = (
        "topics:\n"
        "  - id: a\n"
        "    near: {terms: [x, y], within: 0}\n"
        "    any: []\n"
        "  - id: b\n"
        "    all: [x]\n"
        "    alert: {priority: top}\n"
    )
    errors = errors_of(text)
    assert [e.split(" ")[1] for e in errors] == [
        "topics[0].any:",
        "topics[0].near.within:",
        "topics[1].alert.priority:",
    ]


def test_python_object_tag_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f'!!python/object/apply:os.system ["touch {marker}"]\n'
    errors = errors_of(text)
    assert errors == [
        "w.yaml:1:1 (document): could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    ]
    nested = f'topics:\n  - id: t\n    any: [!!python/object/apply:os.system ["touch {marker}"]]\n'
    assert "python/object/apply" in errors_of(nested)[0]
    assert not marker.exists()


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("topics: [{id: t, any: *a7}]")
    errors = errors_of("\n".join(lines) + "\n")
    assert errors == ["w.yaml: too large (aliases expand to more than 100000 nodes)"]


def test_load_watchlist_reports_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(missing)
    assert caught.value.errors == [f"{missing}: cannot read: No such file or directory"]


def test_error_message_lists_every_line() -> None:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist("topics:\n  - id: t\n    any: []\n    all: []\n", "w.yaml")
    assert str(caught.value).splitlines()[0] == "invalid watchlist (2 errors):"
    assert str(caught.value).splitlines()[1:] == caught.value.errors


def test_sample_loads_with_defaults_applied() -> None:
    watchlist = load_watchlist(SAMPLE)
    assert [t.id for t in watchlist.topics] == ["ai-moratorium", "twitter-ai", "china-llm"]
    moratorium = watchlist.topic("ai-moratorium")
    assert moratorium is not None
    assert moratorium.alert.channels == ("#ai-policy",)
    assert (moratorium.alert.priority, moratorium.alert.mention) == ("high", "here")
    twitter = watchlist.topic("twitter-ai")
    assert twitter is not None
    assert twitter.alert.channels == ("#comms-monitoring",)  # inherited from defaults
    assert twitter.alert.cooldown == timedelta(hours=2)
    assert twitter.fields == ("title", "summary", "content")
    assert twitter.title_weight == 2.0
    assert watchlist.topic("nope") is None
    assert watchlist.source == str(SAMPLE)


def test_version_is_a_content_hash() -> None:
    text = SAMPLE.read_text()
    first = parse_watchlist(text)
    assert re.fullmatch(r"sha256:[0-9a-f]{12}", first.version)
    assert parse_watchlist(text, "elsewhere.yaml").version == first.version
    assert parse_watchlist(text + "\n# changed\n").version != first.version


def test_integer_terms_are_text() -> None:
    watchlist = parse_watchlist("topics:\n  - id: t\n    all: [[GPT], [4, 2023]]\n")
    assert watchlist.topics[0].all is not None
    assert [term.text for term in watchlist.topics[0].all[1]] == ["4", "2023"]


def test_alert_settings_parse() -> None:
    text = (
        "defaults:\n  alert: {priority: high, channels: ['#a']}\n"
        "topics:\n"
        "  - id: t\n    any: [x]\n"
        "    alert: {mention: S0123ABC, muted_until: 2026-12-01T09:00:00Z, cooldown: 1h30m}\n"
        "  - id: u\n    any: [x]\n"
        "    alert: {priority: normal, mention: channel, mention_any_priority: true,"
        " cooldown: 90, channels: [C0123ABCD]}\n"
    )
    watchlist = parse_watchlist(text)
    t, u = watchlist.topics
    assert t.alert.mention == "subteam^S0123ABC"
    assert t.alert.priority == "high" and t.alert.channels == ("#a",)
    assert t.alert.muted_until == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert t.alert.cooldown == timedelta(hours=1, minutes=30)
    assert u.alert.cooldown == timedelta(seconds=90)
    assert u.alert.channels == ("C0123ABCD",)


def test_models_are_frozen() -> None:
    watchlist = load_watchlist(SAMPLE)
    with pytest.raises(ValueError, match="frozen"):
        watchlist.topics[0].alert.priority = "low"  # type: ignore[misc]
