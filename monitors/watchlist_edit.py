"""Setting topics' ``semantic.threshold`` in watchlist YAML text, touching nothing else.

The YAML is composed (not loaded) so that every value keeps its position: a threshold that is
written is replaced character for character; a missing one is inserted on its own line (or
inside a flow mapping) at the indentation of its neighbours. Comments, order, quoting and layout
stay as they were. The result is checked: loading it must give the document it came from with
only those thresholds changed, or nothing is returned.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml


class EditError(ValueError):
    """The thresholds could not be written safely; the message says why."""


def _value(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _topic_nodes(root: yaml.Node | None) -> dict[str, yaml.MappingNode]:
    if not isinstance(root, yaml.MappingNode):
        msg = "the watchlist is not a mapping"
        raise EditError(msg)
    found = _value(root, "topics")
    if found is None or not isinstance(found[1], yaml.SequenceNode):
        msg = "the watchlist has no list of topics"
        raise EditError(msg)
    topics: dict[str, yaml.MappingNode] = {}
    for item in found[1].value:
        if isinstance(item, yaml.MappingNode):
            id_pair = _value(item, "id")
            if id_pair is not None and isinstance(id_pair[1], yaml.ScalarNode):
                topics[id_pair[1].value] = item
    return topics


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _edit(text: str, topic: yaml.MappingNode, value: str) -> tuple[int, int, str]:
    """(start, end, replacement) that sets this topic's threshold."""
    semantic = _value(topic, "semantic")
    if semantic is None:
        id_pair = _value(topic, "id")
        assert id_pair is not None  # topics are found by their id
        id_key, id_value = id_pair
        if topic.flow_style:
            at = id_value.end_mark.index
            return at, at, f", semantic: {{threshold: {value}}}"
        line = " " * id_key.start_mark.column + f"semantic: {{threshold: {value}}}"
        newline = text.find("\n", id_value.end_mark.index)
        if newline < 0:
            return len(text), len(text), "\n" + line
        return newline + 1, newline + 1, line + "\n"
    mapping = semantic[1]
    if not isinstance(mapping, yaml.MappingNode):
        msg = f"semantic of topic {_topic_id(topic)} is not a mapping"
        raise EditError(msg)
    threshold = _value(mapping, "threshold")
    if threshold is not None:
        node = threshold[1]
        if not isinstance(node, yaml.ScalarNode):
            msg = f"semantic.threshold of topic {_topic_id(topic)} is not a number"
            raise EditError(msg)
        return node.start_mark.index, node.end_mark.index, value
    if mapping.flow_style or not mapping.value:
        start = mapping.start_mark.index + 1  # just after "{"
        separator = ", " if mapping.value else ""
        return start, start, f"threshold: {value}{separator}"
    first_key = mapping.value[0][0]
    start = _line_start(text, first_key.start_mark.index)
    return start, start, " " * first_key.start_mark.column + f"threshold: {value}\n"


def _topic_id(topic: yaml.MappingNode) -> str:
    pair = _value(topic, "id")
    return str(pair[1].value) if pair is not None else "?"


def set_thresholds(text: str, thresholds: dict[str, float]) -> str:
    """``text`` with each named topic's ``semantic.threshold`` set; raises :class:`EditError`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        before = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"cannot read the watchlist: {exc}"
        raise EditError(msg) from None
    topics = _topic_nodes(root)
    unknown = sorted(set(thresholds) - set(topics))
    if unknown:
        msg = f"no topic {', '.join(unknown)} in the watchlist"
        raise EditError(msg)
    edits = sorted(
        (_edit(text, topics[topic], _number(value)) for topic, value in thresholds.items()),
        reverse=True,
    )
    for start, end, replacement in edits:
        text = text[:start] + replacement + text[end:]
    _check(before, text, thresholds)
    return text


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.1f}"


def _check(before: Any, text: str, thresholds: dict[str, float]) -> None:
    expected = copy.deepcopy(before)
    for topic in expected["topics"]:
        if isinstance(topic, dict) and topic.get("id") in thresholds:
            semantic = topic.get("semantic") or {}
            semantic["threshold"] = float(_number(thresholds[topic["id"]]))
            topic["semantic"] = semantic
    try:
        after = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"the edit would break the YAML ({exc}); nothing written"
        raise EditError(msg) from None
    if after != expected:
        msg = "the edit would change more than the thresholds; nothing written"
        raise EditError(msg)
