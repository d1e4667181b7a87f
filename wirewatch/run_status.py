"""The status line of ``wirewatch run``: pipeline counters read from the components' /metrics.

The poller and the worker already count what the line shows for Prometheus; reading their
endpoints keeps ``run`` from counting anything itself, and shows exactly what an operator's
dashboard would. A component whose endpoint does not answer (not started yet, or its web port
set to 0) shows ``?`` instead of a number.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

# Alert outcomes that reached a channel (alone or inside a digest).
_DELIVERED = ("posted", "digested")


@dataclass(frozen=True)
class PipelineCounts:
    """Totals since the components started; None where the component did not answer."""

    polled: float | None
    matched: float | None
    alerted: float | None
    dead_letters: float | None

    def line(self) -> str:
        """``status: 3 articles polled, 2 matched, 2 alerted, 0 dead letters``."""
        return (
            f"status: {_number(self.polled)} articles polled, {_number(self.matched)} matched, "
            f"{_number(self.alerted)} alerted, {_number(self.dead_letters)} dead letters"
        )


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def metrics_url(bind: str, port: int) -> str | None:
    """Where a component serving on ``bind:port`` answers locally; None when it serves nothing."""
    if not port:
        return None
    host = "[::1]" if ":" in bind else "127.0.0.1"
    return f"http://{host}:{port}/metrics"


Sample = tuple[str, dict[str, str], float]


def scrape(url: str | None, timeout_s: float = 2.0) -> list[Sample] | None:
    """Every ``(name, labels, value)`` a Prometheus endpoint serves; None if it did not answer."""
    if url is None:
        return None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _total(
    samples: list[Sample] | None, name: str, outcomes: tuple[str, ...] | None = None
) -> float | None:
    if samples is None:
        return None
    return sum(
        value
        for sample_name, labels, value in samples
        if sample_name == name and (outcomes is None or labels.get("outcome") in outcomes)
    )


def read_counts(poller_url: str | None, worker_url: str | None) -> PipelineCounts:
    """Scrape both components once and add up the series the status line shows."""
    poller = scrape(poller_url)
    worker = scrape(worker_url)
    return PipelineCounts(
        polled=_total(poller, "wirewatch_articles_published_total"),
        matched=_total(worker, "wirewatch_matches_total"),
        alerted=_total(worker, "wirewatch_alerts_total", _DELIVERED),
        dead_letters=_total(worker, "wirewatch_dead_letters_total"),
    )
