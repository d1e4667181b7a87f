"""Alerts rendered as Slack Block Kit messages with a plain-text fallback (pure functions).

One alert reads, top to bottom: the topic as a header; the headline as a bold link with the source,
the real host of the link and the published time; the snippet as a quote with the matched words in
bold; the key entities; a short "why this matched" line; a context line with priority and watchlist
version. A burst for one channel is folded into a digest listing the headlines as links.

Every piece of feed text goes through :mod:`alerts.text`; every message is fitted to Slack's limits
(50 blocks, 3,000 characters a section, 150 a header, 40,000 of fallback text) by trimming with an
ellipsis, never by letting Slack reject it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alerts.model import Alert
from alerts.text import (
    ELLIPSIS,
    clean,
    cut_mrkdwn,
    escape,
    mrkdwn_text,
    neutralise,
    plain_text,
    safe_url,
    truncate,
    url_host,
)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 2000
MAX_TEXT = 40_000
# Readability caps, well inside Slack's limits.
MAX_TITLE_CHARS = 300
MAX_SNIPPET_CHARS = 700
MAX_ENTITIES = 8
ENTITIES_READ = 200
MAX_HIGHLIGHTS = 50
MAX_EVIDENCE = 3
DIGEST_MAX_ITEMS = 40

_PRIORITY_MARK = {"high": "🔴 ", "normal": "", "low": ""}
_MENTION = re.compile(r"^(?:<?[!@]?)(here|channel|subteam\^[A-Z0-9]{2,30})>?$", re.IGNORECASE)


@dataclass(frozen=True)
class SlackMessage:
    """A message ready for ``chat.postMessage`` or an incoming webhook."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    unfurl_links: bool = False
    unfurl_media: bool = False

    def payload(self) -> dict[str, Any]:
        """The message body shared by both APIs (the sink adds channel and metadata)."""
        return {
            "text": self.text,
            "blocks": self.blocks,
            "unfurl_links": self.unfurl_links,
            "unfurl_media": self.unfurl_media,
        }


def render_mention(mention: str | None) -> str | None:
    """The Slack syntax of an operator-set mention (``here``, ``channel``, ``subteam^ID``).

    Anything else (``everyone``, a user, free text) renders no mention at all: pings are opt-in
    and limited to what an operator can sensibly ask for.
    """
    if not mention:
        return None
    found = _MENTION.match(mention.strip())
    if not found:
        return None
    name = found.group(1)
    if name.lower().startswith("subteam^"):
        return f"<!subteam^{name.split('^', 1)[1].upper()}>"
    return f"<!{name.lower()}>"


def render_alert(alert: Alert) -> SlackMessage:
    """One alert as a Block Kit message within Slack's limits."""
    mention = render_mention(alert.mention)
    title = truncate(clean(alert.title), MAX_TITLE_CHARS) or "(no headline)"
    blocks: list[dict[str, Any]] = [
        _header(_PRIORITY_MARK.get(alert.priority, "") + (alert.topic_name or alert.topic)),
        _section(
            _fit(
                lambda n: _headline_text(alert, _prefix(title, n), mention),
                len(title),
            )
        ),
    ]
    snippet = clean(alert.snippet)
    if snippet:
        snippet = truncate(snippet, MAX_SNIPPET_CHARS)
        spans = _highlight_spans(alert.snippet, snippet, alert.highlights)
        blocks.append(_section(_fit(lambda n: _snippet_text(snippet, spans, n), len(snippet))))
    facts = [line for line in (_entities_line(alert), _why_line(alert)) if line]
    if facts:
        blocks.append(_section(cut_mrkdwn("\n".join(facts), MAX_SECTION_TEXT)))
    blocks.append(_context(_context_text(alert)))
    return SlackMessage(text=_fallback_text(alert, title, mention), blocks=blocks)


def render_digest(alerts: Sequence[Alert], channel: str) -> SlackMessage:
    """Several alerts for ``channel`` folded into one message listing headlines as links.

    At most :data:`DIGEST_MAX_ITEMS` alerts are listed; use :func:`digest_chunks` to split a larger
    burst into several digests so that every alert is listed exactly once.
    """
    listed = list(alerts)[:DIGEST_MAX_ITEMS]
    if not listed:
        msg = "a digest needs at least one alert"
        raise ValueError(msg)
    mentions = [render_mention(a.mention) for a in sorted(listed, key=_priority_rank) if a.mention]
    mention = next((m for m in mentions if m), None)
    topics = list(dict.fromkeys(a.topic_name or a.topic for a in listed))
    header = f"{_count(len(listed))}: " + ", ".join(topics)
    lines = [_digest_line(a) for a in listed]
    blocks: list[dict[str, Any]] = [_header(header)]
    if mention:
        blocks.append(_section(mention))
    blocks.extend(_section(text) for text in _pack(lines, MAX_SECTION_TEXT))
    if len(blocks) > MAX_BLOCKS - 1:
        blocks = [*blocks[: MAX_BLOCKS - 2], _section(f"{ELLIPSIS} list shortened")]
    versions = ", ".join(sorted({a.watchlist_version for a in listed if a.watchlist_version}))
    context = f"Wirewatch digest for {escape(channel)} · a burst folded into one message"
    if versions:
        context += f" · watchlist {escape(versions)}"
    blocks.append(_context(context))
    text_lines = [f"{mention} " if mention else ""]
    text_lines[0] += f"{_count(len(listed))}: {escape(neutralise(clean(', '.join(topics))))}"
    text_lines += [
        f"• {mrkdwn_text(truncate(clean(a.title), 200)) or '(no headline)'}"
        f" ({escape(url_host(a.link)) or mrkdwn_text(truncate(clean(a.source), 80))})"
        for a in listed
    ]
    return SlackMessage(text=cut_mrkdwn("\n".join(text_lines), MAX_TEXT), blocks=blocks)


def digest_chunks(alerts: Sequence[Alert], size: int = DIGEST_MAX_ITEMS) -> list[list[Alert]]:
    """``alerts`` split, in order, into groups that each fit one digest."""
    size = max(1, min(size, DIGEST_MAX_ITEMS))
    count = -(-len(alerts) // size)
    # Even shares (41 alerts: 21 + 20, not 40 + 1), earlier digests taking the remainder.
    base, extra = divmod(len(alerts), count) if count else (0, 0)
    chunks, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        chunks.append(list(alerts[start:end]))
        start = end
    return chunks


# --- blocks ---------------------------------------------------------------------------------


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": truncate(plain_text(text) or "Wirewatch alert", MAX_HEADER_TEXT),
            "emoji": True,
        },
    }


def _section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut_mrkdwn(text, MAX_SECTION_TEXT)},
    }


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut_mrkdwn(text, MAX_CONTEXT_TEXT)}],
    }


def _fit(render: Callable[[int], str], length: int, limit: int = MAX_SECTION_TEXT) -> str:
    """The longest ``render(n)`` (n raw characters kept) whose rendered size fits ``limit``."""
    full = render(length)
    if len(full) <= limit:
        return full
    low, high = 0, length
    while low < high:
        mid = (low + high + 1) // 2
        if len(render(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    return render(low)


# --- pieces of an alert ---------------------------------------------------------------------


def _prefix(text: str, keep: int) -> str:
    return text if keep >= len(text) else text[:keep].rstrip() + ELLIPSIS


def _link(url: str, label: str) -> str:
    """``label`` (already mrkdwn-safe) as a link when ``url`` is http(s), else as plain text."""
    safe = safe_url(url)
    return f"<{safe}|{label}>" if safe else label


def _headline_text(alert: Alert, title: str, mention: str | None) -> str:
    headline = f"*{_link(alert.link, mrkdwn_text(title) or '(no headline)')}*"
    if mention:
        headline = f"{mention} {headline}"
    facts = [mrkdwn_text(alert.source)] if clean(alert.source) else []
    host = url_host(alert.link)
    if host and host not in clean(alert.source).lower():
        facts.append(escape(host))
    if alert.published is not None:
        facts.append(_slack_date(alert.published))
    return headline + ("\n" + " · ".join(facts) if facts else "")


def _slack_date(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _highlight_spans(
    raw: str, snippet: str, highlights: Sequence[str | tuple[int, int]]
) -> list[tuple[int, int]]:
    """Non-overlapping, sorted (start, end) spans of ``snippet`` to show in bold.

    Offsets refer to the raw snippet; when cleaning changed the text they are mapped through the
    matched substring, so a highlight always lands on the words it names.
    """
    spans: list[tuple[int, int]] = []
    lowered = snippet.lower()
    for item in highlights[:MAX_HIGHLIGHTS]:
        if isinstance(item, str):
            needle = clean(item).lower()
        else:
            start, end = item
            needle = clean(raw[max(0, start) : max(0, end)]).lower()
        if not needle:
            continue
        position = lowered.find(needle)
        while position != -1:
            spans.append((position, position + len(needle)))
            position = lowered.find(needle, position + len(needle))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _snippet_text(snippet: str, spans: list[tuple[int, int]], keep: int) -> str:
    """The snippet's first ``keep`` characters as a quote, highlighted spans in bold."""
    text = snippet[:keep]
    out: list[str] = []
    position = 0
    for start, end in spans:
        if start >= len(text):
            break
        end = min(end, len(text))
        out.append(escape(neutralise(text[position:start])))
        word = text[start:end]
        # Slack only bolds "*word*" when the asterisks touch the word, not spaces.
        inner = word.strip()
        lead = word[: len(word) - len(word.lstrip())]
        trail = word[len(word.rstrip()) :]
        out.append(f"{lead}*{escape(neutralise(inner))}*{trail}" if inner else word)
        position = end
    out.append(escape(neutralise(text[position:])))
    body = "".join(out)
    if keep < len(snippet) and not body.endswith(ELLIPSIS):
        body += ELLIPSIS
    return "> " + body


def _entities_line(alert: Alert) -> str:
    # Only the first entities are read: an article with thousands must not cost seconds.
    read = alert.entities[:ENTITIES_READ]
    names = [n for n in dict.fromkeys(clean(e.text[:200]) for e in read) if n]
    if not names:
        return ""
    shown = ", ".join(escape(neutralise(truncate(n, 60))) for n in names[:MAX_ENTITIES])
    hidden = len(names) - MAX_ENTITIES + len(alert.entities) - len(read)
    more = f" +{hidden} more" if hidden > 0 else ""
    return f"*Entities:* {shown}{more}"


def _why_line(alert: Alert) -> str:
    reasons = []
    for item in alert.evidence[:MAX_EVIDENCE]:
        text = escape(neutralise(truncate(clean(item.text), 80)))
        if not text:
            continue
        if item.rule == "semantic":  # a match by meaning: "similar to example 3 (0.71)"
            reasons.append(text)
            continue
        where = f" in {escape(neutralise(clean(item.field)))}" if clean(item.field) else ""
        rule = (
            f" ({escape(neutralise(truncate(clean(item.rule), 60)))})" if clean(item.rule) else ""
        )
        reasons.append(f"“{text}”{where}{rule}")
    if not reasons:
        return ""
    more = (
        f" and {len(alert.evidence) - MAX_EVIDENCE} more"
        if len(alert.evidence) > MAX_EVIDENCE
        else ""
    )
    verb = "" if alert.evidence[0].rule == "semantic" else "matched "
    return f"*Why:* {verb}" + "; ".join(reasons) + more


def _context_text(alert: Alert) -> str:
    parts = [f"Priority {escape(alert.priority)}"]
    if alert.watchlist_version:
        parts.append(f"watchlist {mrkdwn_text(truncate(alert.watchlist_version, 80))}")
    parts.append(f"topic `{escape(truncate(clean(alert.topic), 80).replace('`', 'ˋ'))}`")
    parts.append("Wirewatch")
    return " · ".join(parts)


def _fallback_text(alert: Alert, title: str, mention: str | None) -> str:
    """The notification / screen-reader text: mention, topic, headline, source and link."""
    topic = mrkdwn_text(alert.topic_name or alert.topic)
    text = f"[{topic}] {mrkdwn_text(title) or '(no headline)'}"
    source = mrkdwn_text(alert.source)
    if source:
        text += f" — {source}"
    safe = safe_url(alert.link)
    if safe:
        text += f" <{safe}|{escape(url_host(alert.link))}>"
    if mention:
        text = f"{mention} {text}"
    return cut_mrkdwn(text, MAX_TEXT)


def _digest_line(alert: Alert) -> str:
    title = mrkdwn_text(truncate(clean(alert.title), 200)) or "(no headline)"
    facts = [mrkdwn_text(truncate(clean(alert.source), 80))] if clean(alert.source) else []
    host = url_host(alert.link)
    if host and host not in clean(alert.source).lower():
        facts.append(escape(host))
    if alert.topic_name or alert.topic:
        facts.append(f"_{mrkdwn_text(alert.topic_name or alert.topic)}_")
    return f"• *{_link(alert.link, title)}*" + (" — " + " · ".join(facts) if facts else "")


def _pack(lines: list[str], limit: int) -> list[str]:
    """Lines joined into as few texts of at most ``limit`` characters as possible."""
    texts: list[str] = []
    current = ""
    for line in lines:
        line = cut_mrkdwn(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            texts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        texts.append(current)
    return texts


def _count(number: int) -> str:
    return f"{number} new alert" + ("" if number == 1 else "s")


def _priority_rank(alert: Alert) -> int:
    return {"high": 0, "normal": 1, "low": 2}.get(alert.priority, 3)
