"""Feed health for operators: a status word per feed, a table for the CLI, numbers for metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from streams.poller.logsafe import log_safe
from streams.poller.state import FeedState


def status_word(state: FeedState) -> str:
    """``ok``, ``failing`` (errors below the threshold), ``attention`` or ``new``."""
    if state.needs_attention:
        return "attention"
    if state.error_streak:
        return "failing"
    if state.last_success_at is None:
        return "new"
    return "ok"


def summary(states: Iterable[FeedState]) -> dict[str, int]:
    """Feeds per status word (ready to export as a gauge)."""
    return dict(Counter(status_word(s) for s in states))


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{seconds / size:.0f}{unit}"
            break
    else:
        text = f"{seconds:.0f}s"
    return f"in {text}" if future else f"{text} ago"


def format_status(states: Iterable[FeedState], now: datetime) -> str:
    """A plain-text table: one line per feed, worst first, then a summary line."""
    order = {"attention": 0, "failing": 1, "new": 2, "ok": 3}
    rows = sorted(states, key=lambda s: (order[status_word(s)], s.url))
    lines = []
    for s in rows:
        error = f"  {s.last_error_kind}: {log_safe(s.last_error, 120)}" if s.last_error else ""
        lines.append(
            f"{status_word(s):<9} {log_safe(s.url, 80):<80} ok {_ago(s.last_success_at, now):<9}"
            f" errors {s.error_streak:<3} next {_ago(s.next_poll_at, now):<9}"
            f" published {s.articles_published}{error}"
        )
    counts = summary(rows)
    lines.append(
        f"{len(rows)} feeds: " + ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
    )
    return "\n".join(lines)
