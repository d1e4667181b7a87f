"""The near-miss digest for an operator channel as a Block Kit message (pure functions).

Once a week (``wirewatch nearmiss digest``, run by cron) an operator sees the articles that almost
matched each topic: a header with the count, one section list per topic with the headlines as
links and why they came close, and a context line saying how to label them. Feed text goes through
:mod:`alerts.text` like every alert; the message stays within Slack's limits
(:mod:`alerts.formatting`) by listing at most :data:`DIGEST_MAX_LINES` articles and packing lines
into sections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.formatting import (
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    MAX_TEXT,
    SlackMessage,
    _context,
    _header,
    _pack,
    _section,
)
from alerts.text import cut_mrkdwn, escape, mrkdwn_text, plain_text, safe_url, truncate, url_host

#: Articles listed in one digest; the rest are counted ("and 12 more").
DIGEST_MAX_LINES = 100
_TITLE_CHARS = 160
_DETAIL_CHARS = 140


@dataclass(frozen=True, slots=True)
class NearMissLine:
    """One article that almost matched ``topic``, as the digest lists it."""

    topic: str
    title: str
    link: str = ""
    source: str = ""
    reason: str = ""
    detail: str = ""


def render_near_miss_digest(
    lines: Sequence[NearMissLine], since: datetime, until: datetime
) -> SlackMessage:
    """The digest of ``lines`` (near misses between ``since`` and ``until``), grouped by topic."""
    if not lines:
        msg = "a near-miss digest needs at least one near miss"
        raise ValueError(msg)
    articles = len({(line.title, line.link) for line in lines})
    period = f"{since:%Y-%m-%d} to {until:%Y-%m-%d}"
    header = f"Near misses {period}: {articles} article" + ("" if articles == 1 else "s")
    blocks: list[dict[str, Any]] = [_header(header)]
    by_topic: dict[str, list[NearMissLine]] = {}
    for line in lines[:DIGEST_MAX_LINES]:
        by_topic.setdefault(line.topic, []).append(line)
    for topic, topic_lines in by_topic.items():
        items = [_item(line) for line in topic_lines]
        heading = f"*{mrkdwn_text(topic)}* ({len(items)})"
        blocks.extend(_section(text) for text in _pack([heading, *items], MAX_SECTION_TEXT))
    if len(blocks) > MAX_BLOCKS - 1 or len(lines) > DIGEST_MAX_LINES:
        # Room for this line and the context line.
        blocks = [*blocks[: MAX_BLOCKS - 2], _section(f"… {len(lines)} near misses in all")]
    blocks.append(
        _context(
            "Wirewatch near-miss digest · label them with "
            "`wirewatch nearmiss export --since 7d`, then `wirewatch watchlist eval`"
        )
    )
    text = f"{header}: " + ", ".join(
        f"{mrkdwn_text(topic)} ({len(items)})" for topic, items in by_topic.items()
    )
    return SlackMessage(text=cut_mrkdwn(text, MAX_TEXT), blocks=blocks)


def _item(line: NearMissLine) -> str:
    title = mrkdwn_text(truncate(plain_text(line.title), _TITLE_CHARS)) or "(no headline)"
    safe = safe_url(line.link)
    headline = f"<{safe}|{title}>" if safe else title
    facts = [mrkdwn_text(truncate(plain_text(line.source), 60))] if plain_text(line.source) else []
    host = url_host(line.link)
    if host and host not in plain_text(line.source).lower():
        facts.append(escape(host))
    why = mrkdwn_text(truncate(plain_text(f"{line.reason}: {line.detail}"), _DETAIL_CHARS))
    if why:
        facts.append(f"_{why}_")
    return f"• {headline}" + (" — " + " · ".join(facts) if facts else "")
