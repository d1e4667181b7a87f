"""Rule explanations (found / missing, part by part) and partial-rule near misses."""

from __future__ import annotations

from collections.abc import Callable

from monitors.detector import Detector
from monitors.evaluate import State
from tests.monitors.conftest import article, topics_yaml

PAUSE = """\
  - id: pause
    partial_rule_near_misses: true
    rules:
      - near:
          terms:
            - [pause, halt]
            - [{text: AI, case_sensitive: true}, artificial intelligence]
            - [development, training, experiments]
          within: 5
      - any: ["AI moratorium"]
    exclude:
      - near: {terms: [[pause], [ads]], within: 4}
"""


def _explain(detector: Detector, title: str, summary: str = "") -> dict[str, list[str]]:
    [item] = detector.explain(article(title, summary))
    return {block.name: [c.describe() for c in block.conditions] for block in item.rules}


def test_a_failed_near_names_what_was_found_and_what_is_missing(
    make_detector: Callable[..., Detector],
) -> None:
    detector = make_detector(topics_yaml(PAUSE))
    lines = _explain(detector, "Experts call for an AI pause")
    assert lines["rules[0]"] == [
        'rules[0].near: found "pause" (title), "AI" (title); '
        "missing one of [development, training, experiments] within 5 words"
    ]
    assert lines["rules[1]"] == ["rules[1].any: nothing found; missing AI moratorium"]
    assert lines["exclude[0]"] == [
        'exclude[0].near: found "pause" (title); missing ads within 4 words'
    ]


def test_every_part_found_but_too_far_apart(make_detector: Callable[..., Detector]) -> None:
    detector = make_detector(topics_yaml(PAUSE))
    lines = _explain(
        detector, "A pause, they said, is what AI labs need now before anything more on training"
    )
    assert lines["rules[0]"] == [
        'rules[0].near: found "pause" (title), "AI" (title), "training" (title), '
        "but not within 5 words"
    ]


def test_a_held_condition_and_a_veto_are_explained(make_detector: Callable[..., Detector]) -> None:
    detector = make_detector(topics_yaml(PAUSE))
    [item] = detector.explain(article("Pause AI training now, and pause ads too"))
    assert not item.matched
    states = {block.name: block.state for block in item.rules}
    assert states == {"rules[0]": State.TRUE, "rules[1]": State.FALSE, "exclude[0]": State.TRUE}
    held = item.rules[0].conditions[0]
    assert held.describe().endswith("within 5 words") and not held.missing
    data = item.rules[2].to_dict()
    assert data["state"] == "true" and data["conditions"][0]["parts"][1]["terms"] == ["ads"]


def test_partial_rule_near_miss_when_one_part_of_three_is_missing(
    make_detector: Callable[..., Detector],
) -> None:
    detector = make_detector(topics_yaml(PAUSE))
    result = detector.detect(article("Experts call for an AI pause"))
    assert result.matches == ()
    [near] = result.near_misses
    assert (near.topic, near.reason, near.score, near.threshold) == (
        "pause",
        "partial_rule",
        None,
        None,
    )
    assert near.detail.startswith('rules[0].near: found "pause" (title), "AI" (title); missing')
    assert result.to_dict()["near_misses"] == [near.to_dict()]


def test_no_near_miss_for_one_part_a_veto_a_match_or_when_not_asked(
    make_detector: Callable[..., Detector],
) -> None:
    detector = make_detector(topics_yaml(PAUSE))
    assert detector.detect(article("A pause for thought")).near_misses == ()  # one part of three
    assert detector.detect(article("An AI pause on ads")).near_misses == ()  # vetoed
    matched = detector.detect(article("An AI training pause"))
    assert matched.topics() == ("pause",) and matched.near_misses == ()
    quiet = make_detector(topics_yaml(PAUSE.replace("partial_rule_near_misses: true", "name: p")))
    assert quiet.detect(article("Experts call for an AI pause")).near_misses == ()


def test_the_default_can_be_set_for_every_topic(make_detector: Callable[..., Detector]) -> None:
    text = "defaults:\n  partial_rule_near_misses: true\n" + topics_yaml(
        PAUSE.replace("    partial_rule_near_misses: true\n", "")
    )
    detector = make_detector(text)
    assert len(detector.detect(article("Experts call for an AI pause")).near_misses) == 1


def test_topic_conditions_missing_one_part_while_a_rule_holds(
    make_detector: Callable[..., Detector],
) -> None:
    text = topics_yaml(
        """\
  - id: t
    partial_rule_near_misses: true
    all: [[Baidu, Alibaba], [chatbot, model], [Chinese]]
    rules:
      - any: [launch, unveil]
"""
    )
    detector = make_detector(text)
    [near] = detector.detect(article("Chinese firm Baidu launches a phone")).near_misses
    assert (
        near.detail
        == 'all: found "Baidu" (title), "Chinese" (title); missing one of [chatbot, model]'
    )
    # No rule held: the conditions alone are no near miss.
    assert detector.detect(article("Chinese firm Baidu shows a phone")).near_misses == ()


def test_the_setting_is_validated_with_its_place(make_detector: Callable[..., Detector]) -> None:
    from monitors.watchlist import WatchlistError, parse_watchlist

    text = topics_yaml("  - id: t\n    partial_rule_near_misses: maybe\n    any: [x]\n")
    try:
        parse_watchlist(text, "w.yaml")
    except WatchlistError as exc:
        assert exc.errors == [
            "w.yaml:3:31 topics[0].partial_rule_near_misses: input should be a valid boolean, "
            "unable to interpret input"
        ]
    else:
        raise AssertionError("accepted")
