"""The feed list: a strict YAML schema with ``file:line:col key.path: message`` errors.

Example::

    defaults:
      interval_seconds: 900
      tags: [news]
    feeds:
      - url: https://feeds.bbci.co.uk/news/world/rss.xml
        name: BBC World
        tags: [world]

Only ``http`` and ``https`` URLs with a host are accepted: ``file://``, ``ftp://``, ``gopher://``,
``javascript:`` and the like are refused at load time with the place and the reason. Unknown keys
are errors, never silently ignored. An OPML subscription list can be converted with
:func:`feeds_from_opml`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wirewatch.errors import ConfigError

ALLOWED_SCHEMES = ("http", "https")


def check_feed_url(url: str) -> str:
    """``url`` stripped if it is an absolute http(s) URL with a host; else ValueError."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "none"
        msg = f"scheme {shown!r} is not allowed (only http and https)"
        raise ValueError(msg)
    if not parts.hostname:
        msg = "URL has no host"
        raise ValueError(msg)
    if parts.username or parts.password:
        msg = "credentials in feed URLs are not allowed"
        raise ValueError(msg)
    return url


class FeedDefaults(BaseModel):
    """Values every feed inherits unless it sets its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_seconds: float | None = Field(default=None, gt=0)
    tags: tuple[str, ...] = ()


class FeedConfig(BaseModel):
    """One feed: where it is, what to call it, how it is tagged and how often to poll it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    name: str = ""
    tags: tuple[str, ...] = ()
    interval_seconds: float | None = Field(default=None, gt=0)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        return check_feed_url(value)

    @property
    def source_name(self) -> str:
        """The configured name, else the feed's host."""
        return self.name or (urlsplit(self.url).hostname or self.url)

    def shard(self, count: int) -> int:
        """Which of ``count`` pollers owns this feed: a stable hash of its URL (not ``hash()``)."""
        digest = hashlib.sha256(self.url.encode()).digest()
        return int.from_bytes(digest[:8], "big") % count


class FeedList(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: FeedDefaults = FeedDefaults()
    feeds: tuple[FeedConfig, ...] = Field(min_length=1)

    def resolved(self) -> tuple[FeedConfig, ...]:
        """Feeds with the defaults applied (tags merged, interval inherited)."""
        out = []
        for feed in self.feeds:
            tags = tuple(dict.fromkeys((*self.defaults.tags, *feed.tags)))
            interval = feed.interval_seconds or self.defaults.interval_seconds
            out.append(feed.model_copy(update={"tags": tags, "interval_seconds": interval}))
        return tuple(out)


def select_shard(feeds: Sequence[FeedConfig], count: int, index: int) -> tuple[FeedConfig, ...]:
    """The feeds poller ``index`` of ``count`` owns, so that pollers sharing a list never
    fetch the same feed twice (a stable hash of the URL; every poller computes the same split).
    """
    if not 0 <= index < count:
        msg = f"poller_index {index} is outside 0..{count - 1} (poller_count {count})"
        raise ConfigError(msg)
    return tuple(feed for feed in feeds if feed.shard(count) == index)


def _node_at(
    root: yaml.Node | None, loc: Sequence[int | str], *, at_key: bool = False
) -> yaml.Node | None:
    """The deepest YAML node along a pydantic error location (for its line and column).

    ``at_key`` points at the last key itself rather than its value (an unknown key).
    """
    node = root
    for depth, key in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            if at_key and depth == len(loc) - 1:
                return next((k for k, _ in node.value if k.value == key), node)
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                # The key itself is the culprit (an unknown key): point at the key node.
                key_node = next((k for k, _ in node.value if k.value == key), None)
                return key_node or node
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return node
            node = node.value[key]
        else:
            return node
    return node


def _format_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for key in loc:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top)"


def parse_feed_list(text: str, source: str = "<string>") -> tuple[FeedConfig, ...]:
    """Validate a feed list; raise :class:`ConfigError` listing every problem with its place."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{where}: invalid YAML: {problem}"
        raise ConfigError(msg) from None
    if not isinstance(data, dict):
        msg = f"{source}:1:1: the feed list must be a mapping with a 'feeds' list"
        raise ConfigError(msg)
    try:
        feed_list = FeedList.model_validate(data)
    except ValidationError as exc:
        lines = []
        errors = exc.errors(include_input=False, include_url=False)
        # "at least 1 item after validation" on the list is noise when its items have errors.
        item_locs = {tuple(e["loc"][:1]) for e in errors if len(e["loc"]) > 1}
        errors = [
            e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in item_locs)
        ]
        for error in errors:
            loc = list(error["loc"])
            node = _node_at(root, loc, at_key=error["type"] == "extra_forbidden")
            line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{source}:{line}:{col} {_format_loc(loc)}: {message}")
        msg = "\n".join(lines)
        raise ConfigError(msg) from None
    feeds = feed_list.resolved()
    seen: dict[str, int] = {}
    for index, feed in enumerate(feeds):
        if feed.url in seen:
            node = _node_at(root, ["feeds", index, "url"])
            line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
            msg = f"{source}:{line}:{col} feeds[{index}].url: duplicate of feeds[{seen[feed.url]}]"
            raise ConfigError(msg)
        seen[feed.url] = index
    return feeds


def load_feed_list(path: Path) -> tuple[FeedConfig, ...]:
    """Read and validate a feed list file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read feed list {path}: {exc}"
        raise ConfigError(msg) from None
    return parse_feed_list(text, str(path))


def feeds_from_opml(text: str | bytes) -> str:
    """Convert an OPML subscription list to feed-list YAML (validate it with ``parse_feed_list``).

    Only ``xmlUrl`` and ``title``/``text`` of ``outline`` elements are read; category outlines
    become tags of the feeds inside them.
    """
    # OPML files are small and come from the operator; ElementTree does not fetch external
    # entities, and DTDs are refused outright to keep entity expansion out.
    raw = text.encode() if isinstance(text, str) else text
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        msg = "OPML with a DOCTYPE or ENTITY declaration is refused"
        raise ConfigError(msg)
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        msg = f"invalid OPML: {exc}"
        raise ConfigError(msg) from None
    feeds: list[dict[str, Any]] = []

    def walk(element: ElementTree.Element, tags: tuple[str, ...]) -> None:
        for outline in element.findall("outline"):
            url = outline.get("xmlUrl")
            title = outline.get("title") or outline.get("text") or ""
            if url:
                entry: dict[str, Any] = {"url": url}
                if title:
                    entry["name"] = title
                if tags:
                    entry["tags"] = list(tags)
                feeds.append(entry)
            else:
                walk(outline, (*tags, title) if title else tags)

    body = root.find("body")
    walk(body if body is not None else root, ())
    return yaml.safe_dump({"feeds": feeds}, sort_keys=False, allow_unicode=True)
