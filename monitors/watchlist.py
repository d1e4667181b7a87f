"""Load and validate watchlists: YAML text in, a frozen :class:`Watchlist` out, or every error.

YAML is read with PyYAML's SafeLoader only (no tags that construct objects), composed first so that
every node keeps its line and column. Validation errors from the models in
:mod:`monitors.schema`, and the checks that span the document (duplicate topic ids, references to
unknown entities, mention rules), are all collected and reported together, one line each, as
``path/file.yaml:14:5 topics[3].near.within: must be >= 1``. Any error refuses the whole file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from monitors.schema import (
    AlertSettings,
    Block,
    Defaults,
    ExampleFile,
    Term,
    Topic,
    WatchedEntity,
    WatchlistDocument,
    schema_keys,
)
from wirewatch.errors import ConfigError

Loc = tuple[str | int, ...]
_MAX_NODES = 100_000
_MAX_BYTES = 2_000_000
_UNION_TAGS = frozenset(
    {"term", "block", "example-texts", "example-file", "gate-terms", "gate-block"}
)
_MAX_EXAMPLES = 10_000


class WatchlistError(ConfigError):
    """A watchlist was refused; ``errors`` holds one formatted line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        count = len(errors)
        summary = f"invalid watchlist ({count} error{'s' if count != 1 else ''}):"
        super().__init__("\n".join([summary, *errors]))


class Watchlist(BaseModel):
    """A validated watchlist with defaults applied to every topic, and its content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    source: str
    defaults: Defaults
    entities: dict[str, WatchedEntity]
    topics: tuple[Topic, ...]

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, or None (it may have gone in a newer version)."""
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        return None


def watchlist_version(text: str) -> str:
    """The content hash that identifies a watchlist version."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate a watchlist file; raise :class:`WatchlistError` with every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WatchlistError([f"{path}: cannot read: {reason}"]) from None
    return parse_watchlist(text, str(path))


def parse_watchlist(text: str, source: str = "<string>") -> Watchlist:
    """Validate watchlist YAML text; raise :class:`WatchlistError` with every problem.

    Example files (``examples: {file: name.jsonl}``) are read from the folder of ``source``.
    """
    if len(text.encode("utf-8", "surrogatepass")) > _MAX_BYTES:
        raise WatchlistError([f"{source}: too large (more than {_MAX_BYTES} bytes)"])
    root, data = _compose(text, source)
    errors: list[str] = []
    _check_duplicate_keys(root, source, errors)
    if not isinstance(data, dict):
        mark = f"{source}:1:1" if root is None else _mark(source, root)
        found = "an empty document" if data is None else f"a {type(data).__name__}"
        errors.append(f"{mark} (document): must be a mapping with 'topics', not {found}")
        raise WatchlistError(errors)
    try:
        document = WatchlistDocument.model_validate(data)
    except ValidationError as exc:
        raise WatchlistError(errors + _pydantic_errors(exc, root, source)) from None
    errors += [_format(root, source, loc, msg) for loc, msg in _document_problems(document)]
    if errors:
        raise WatchlistError(errors)
    document, files_text = _read_example_files(document, root, source)
    return _resolve(document, text + files_text, source)


# --- YAML --------------------------------------------------------------------------------------


def _compose(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None and _expanded_size(root, {}) > _MAX_NODES:
            msg = f"{source}: too large (aliases expand to more than {_MAX_NODES} nodes)"
            raise WatchlistError([msg])
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise WatchlistError([f"{where} (document): {problem}"]) from None
    except yaml.YAMLError as exc:
        raise WatchlistError([f"{source}: invalid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    return root, data


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Node count with aliases expanded (a billion-laughs document is refused, not walked)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a recursive alias counts once instead of looping
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = min(size, _MAX_NODES + 1)
    return memo[id(node)]


def _check_duplicate_keys(node: yaml.Node | None, source: str, errors: list[str]) -> None:
    """YAML keeps the last of two equal keys silently: report every repeated key instead."""
    stack: list[tuple[yaml.Node, Loc]] = [(node, ())] if node is not None else []
    seen_nodes: set[int] = set()
    while stack:
        current, loc = stack.pop()
        if id(current) in seen_nodes:
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in current.value:
                if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                    continue
                if key.value in keys:
                    where = _path((*loc, key.value))
                    errors.append(f"{_mark(source, key)} {where}: duplicate key")
                keys.add(key.value)
                stack.append((value, (*loc, key.value)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((child, (*loc, index)) for index, child in enumerate(current.value))
    errors.sort(key=lambda line: [int(n) for n in line.split(" ")[0].split(":")[-2:]])


def _mark(source: str, node: yaml.Node) -> str:
    return f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _locate(root: yaml.Node | None, loc: Loc, want_key: bool) -> tuple[yaml.Node | None, Loc, int]:
    """The deepest node along ``loc`` (the key node for unknown keys), the path it resolved and
    how many segments of ``loc`` that consumed."""
    node, resolved, consumed = root, [], 0
    for index, segment in enumerate(loc):
        if node is None:
            break
        if isinstance(segment, str) and segment in _UNION_TAGS:
            consumed = index + 1
            continue
        if isinstance(node, yaml.MappingNode):
            found = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == str(segment)
                ),
                None,
            )
            if found is None:
                break
            last = index == len(loc) - 1
            node = found[0] if (want_key and last) else found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(segment, int):
            if segment >= len(node.value):
                break
            node = node.value[segment]
        else:
            break
        resolved.append(segment)
        consumed = index + 1
    return node, tuple(resolved), consumed


def _path(loc: Loc) -> str:
    out = ""
    for segment in loc:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += ("." if out else "") + segment
    return out or "(document)"


def _format(root: yaml.Node | None, source: str, loc: Loc, message: str, key: bool = False) -> str:
    node, resolved, consumed = _locate(root, loc, key)
    where = _mark(source, node) if node is not None else f"{source}:1:1"
    # Print the path as written in the file: drop union tags, and list indices that exist only
    # because a single term was wrapped into a group.
    shown: list[str | int] = list(resolved)
    if not isinstance(node, yaml.ScalarNode):  # a scalar was wrapped: its path is complete
        shown += [s for s in loc[consumed:] if isinstance(s, str) and s not in _UNION_TAGS]
    return f"{where} {_path(tuple(shown))}: {message}"


# --- errors ------------------------------------------------------------------------------------


def _message(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    loc = error["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(key, sorted(schema_keys()), n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required key missing"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"needs at least {minimum} items"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()), "?")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {sign} {bound}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "timezone_aware":
        return "must include a time zone (for example 2026-12-01T09:00:00Z)"
    if kind == "tuple_type" and "example-texts" in loc:
        return "must be a list of texts or {file: name.jsonl}"
    if kind == "union_tag_invalid":
        return "must be a term or a condition block"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message[1:2].islower():  # "Input should..." -> "input should...", but keep "YAML"
        message = message[:1].lower() + message[1:]
    return message


def _pydantic_errors(exc: ValidationError, root: yaml.Node | None, source: str) -> list[str]:
    errors = exc.errors(include_url=False, include_input=False)
    locs = [tuple(error["loc"]) for error in errors]
    lines: list[str] = []
    for error, loc in zip(errors, locs, strict=True):
        # A list whose items failed also says it is "too short after validation": noise.
        if error["type"] == "too_short" and any(
            other[: len(loc)] == loc and len(other) > len(loc) for other in locs
        ):
            continue
        key = error["type"] == "extra_forbidden"
        line = _format(root, source, loc, _message(error), key=key)
        if line not in lines:
            lines.append(line)
    return lines


# --- checks that span the document -----------------------------------------------------------


def iter_blocks(topic: Topic, loc: Loc) -> Iterator[tuple[Block, Loc]]:
    """The topic and each of its rules and exclusions, with their locations."""
    yield topic, loc
    for index, rule in enumerate(topic.rules or ()):
        yield rule, (*loc, "rules", index)
    for index, item in enumerate(topic.exclude or ()):
        block = item if isinstance(item, Block) else Block(any=(item,))
        yield block, (*loc, "exclude", index)


def iter_terms(block: Block, loc: Loc) -> Iterator[tuple[Term, Loc]]:
    """Every term of a block, with its location (group terms included)."""
    for index, term in enumerate(block.any or ()):
        yield term, (*loc, "any", index)
    for gi, group in enumerate(block.all or ()):
        for ti, term in enumerate(group):
            yield term, (*loc, "all", gi, ti)
    if block.near is not None:
        for gi, group in enumerate(block.near.terms):
            for ti, term in enumerate(group):
                yield term, (*loc, "near", "terms", gi, ti)
    for gi, group in enumerate(block.same_sentence or ()):
        for ti, term in enumerate(group):
            yield term, (*loc, "same_sentence", gi, ti)
    if block.entity_types is not None:
        for index, term in enumerate(block.entity_types.same_sentence_as or ()):
            yield term, (*loc, "entity_types", "same_sentence_as", index)


def _document_problems(document: WatchlistDocument) -> Iterator[tuple[Loc, str]]:
    seen: dict[str, int] = {}
    known = document.entities
    for index, topic in enumerate(document.topics):
        loc: Loc = ("topics", index)
        if topic.id in seen:
            yield (*loc, "id"), f"duplicate topic id {topic.id!r} (also topics[{seen[topic.id]}])"
        seen.setdefault(topic.id, index)
        for block, block_loc in iter_blocks(topic, loc):
            for position, entity_id in enumerate(block.entities or ()):
                if entity_id not in known:
                    yield (*block_loc, "entities", position), _unknown_entity(entity_id, known)
            for term, term_loc in iter_terms(block, block_loc):
                if term.entity is not None and term.entity not in known:
                    yield (*term_loc, "entity"), _unknown_entity(term.entity, known)
        gate = topic.semantic.gate if topic.semantic is not None else None
        if isinstance(gate, tuple):
            for position, term in enumerate(gate):
                if term.entity is not None and term.entity not in known:
                    where_gate: Loc = (*loc, "semantic", "gate", position, "entity")
                    yield where_gate, _unknown_entity(term.entity, known)
        elif gate is not None:
            gate_loc: Loc = (*loc, "semantic", "gate")
            for position, entity_id in enumerate(gate.entities or ()):
                if entity_id not in known:
                    yield (*gate_loc, "entities", position), _unknown_entity(entity_id, known)
            for term, term_loc in iter_terms(gate, gate_loc):
                if term.entity is not None and term.entity not in known:
                    yield (*term_loc, "entity"), _unknown_entity(term.entity, known)
        alert = _merged_alert(document.defaults.alert, topic.alert)
        if alert.mention is not None:
            allowed = alert.priority == "high" or (
                alert.mention_any_priority and alert.priority != "low"
            )
            if not allowed:
                own = topic.alert.model_fields_set
                where: Loc = loc
                if "mention" in own:
                    where = (*loc, "alert", "mention")
                elif "priority" in own:
                    where = (*loc, "alert", "priority")
                yield (
                    where,
                    (
                        f"mention {alert.mention!r} needs priority high (this topic is "
                        f"{alert.priority}); or set mention_any_priority: true (not with low)"
                    ),
                )


def _unknown_entity(entity_id: str, known: dict[str, WatchedEntity]) -> str:
    close = difflib.get_close_matches(entity_id, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (declare it under entities:)"
    return f"unknown entity {entity_id!r}{hint}"


def _merged_alert(defaults: AlertSettings, own: AlertSettings) -> AlertSettings:
    merged = {name: getattr(defaults, name) for name in defaults.model_fields_set}
    merged.update({name: getattr(own, name) for name in own.model_fields_set})
    return AlertSettings.model_validate(merged)


def _read_example_files(
    document: WatchlistDocument, root: yaml.Node | None, source: str
) -> tuple[WatchlistDocument, str]:
    """Replace every ``{file: ...}`` of examples by its texts; also return what the files held
    (it is part of the watchlist version: new examples are a new version)."""
    errors: list[str] = []
    read: list[str] = []
    topics = list(document.topics)
    for index, topic in enumerate(topics):
        update: dict[str, tuple[str, ...]] = {}
        for key in ("examples", "counter_examples"):
            value = getattr(topic, key)
            if not isinstance(value, ExampleFile):
                continue
            loc: Loc = ("topics", index, key, "file")
            try:
                texts, content = _example_file(value.file, source)
            except ValueError as exc:
                errors.append(_format(root, source, loc, str(exc)))
                continue
            update[key] = texts
            read.append(f"\n# {key} of {topic.id} from {value.file}\n{content}")
        if update:
            topics[index] = topic.model_copy(update=update)
    if errors:
        raise WatchlistError(errors)
    return document.model_copy(update={"topics": tuple(topics)}), "".join(read)


def _example_file(name: str, source: str) -> tuple[tuple[str, ...], str]:
    """The texts of an examples file named relative to the watchlist ``source``."""
    if Path(name).is_absolute():
        msg = f"{name}: give a path relative to the watchlist's folder"
        raise ValueError(msg)
    path = Path(source).parent / name
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        msg = f"cannot read {path}: {reason}"
        raise ValueError(msg) from None
    texts: list[str] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            msg = f"{name}:{number}: invalid JSON: {exc}"
            raise ValueError(msg) from None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            msg = f'{name}:{number}: expected {{"text": "..."}} with a non-empty text'
            raise ValueError(msg)
        texts.append(text)
    if not texts:
        msg = f"{name}: holds no examples"
        raise ValueError(msg)
    if len(texts) > _MAX_EXAMPLES:
        msg = f"{name}: more than {_MAX_EXAMPLES} examples"
        raise ValueError(msg)
    return tuple(texts), content


def _resolve(document: WatchlistDocument, text: str, source: str) -> Watchlist:
    defaults = document.defaults
    topics = tuple(
        topic.model_copy(
            update={
                "name": topic.name or topic.id,
                "fields": topic.fields or defaults.fields,
                "title_weight": (
                    topic.title_weight if topic.title_weight is not None else defaults.title_weight
                ),
                "partial_rule_near_misses": (
                    topic.partial_rule_near_misses
                    if topic.partial_rule_near_misses is not None
                    else defaults.partial_rule_near_misses
                ),
                "alert": _merged_alert(defaults.alert, topic.alert),
            }
        )
        for topic in document.topics
    )
    return Watchlist(
        version=watchlist_version(text),
        source=source,
        defaults=defaults,
        entities=dict(document.entities),
        topics=topics,
    )
