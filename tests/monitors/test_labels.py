"""Label lines: the ``topics`` form judges every topic, the ``judgments`` form only those named."""

from __future__ import annotations

import pytest

from monitors.labels import LabelError, Labels, read_labels


def test_topics_form_judges_every_topic() -> None:
    labels = read_labels(['{"id": "a", "topics": ["t1"]}', '{"id": 7, "topics": []}'], "l.jsonl")
    assert labels.judgment("a", "t1") is True
    assert labels.judgment("a", "t2") is False
    assert labels.judgment("7", "t1") is False


def test_an_unlabeled_article_is_about_no_topic() -> None:
    assert Labels().judgment("nobody", "t1") is False


def test_judgments_form_counts_only_the_judged_topics() -> None:
    labels = read_labels(['{"id": "a", "judgments": {"t1": false, "t2": true}}'], "l.jsonl")
    assert labels.judgment("a", "t1") is False
    assert labels.judgment("a", "t2") is True
    assert labels.judgment("a", "t3") is None


def test_judgments_refine_a_topics_line_and_contradictions_are_counted() -> None:
    labels = read_labels(
        [
            '{"id": "a", "topics": ["t1"]}',
            '{"id": "a", "judgments": {"t1": false}}',  # contradicts: the later line wins
            '{"id": "a", "judgments": {"t2": false}}',  # agrees with the topics line
        ],
        "l.jsonl",
    )
    assert labels.judgment("a", "t1") is False
    assert labels.judgment("a", "t2") is False
    assert labels.judgment("a", "t3") is False  # still judged by the topics line
    assert labels.conflicts == [("a", "t1")]


def test_a_later_topics_line_overrides_earlier_judgments() -> None:
    labels = read_labels(
        ['{"id": "a", "judgments": {"t1": true}}', '{"id": "a", "topics": []}'], "l.jsonl"
    )
    assert labels.judgment("a", "t1") is False
    assert labels.conflicts == [("a", "t1")]


def test_topic_mentions_and_ids() -> None:
    labels = read_labels(
        ['{"id": "a", "topics": ["t1"]}', '{"id": "b", "judgments": {"t1": false, "t9": true}}'],
        "l.jsonl",
    )
    assert labels.ids() == {"a", "b"}
    assert labels.topic_mentions() == {"t1": 2, "t9": 1}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "invalid label line: Expecting value"),
        ('{"topics": []}', "needs an 'id'"),
        ('{"id": "a"}', "needs exactly one of 'topics' or 'judgments'"),
        ('{"id": "a", "topics": [], "judgments": {"t": true}}', "exactly one of"),
        ('{"id": "a", "topics": "t1"}', "'topics' must be a list of strings"),
        ('{"id": "a", "judgments": {"t1": "yes"}}', "'judgments' must map topic ids to true"),
        ('{"id": "a", "judgments": {}}', "(at least one)"),
    ],
)
def test_bad_lines_name_file_and_line(line: str, problem: str) -> None:
    with pytest.raises(LabelError) as caught:
        read_labels(["", line], "l.jsonl")
    assert str(caught.value).startswith("l.jsonl:2: ")
    assert problem in str(caught.value)
