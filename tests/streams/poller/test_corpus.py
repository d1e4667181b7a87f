"""Robustness over real data: every feed file of the shared corpus, served over loopback HTTP,
through the same fetch, parse and article-building path, published to the real broker."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from streams.poller.config import FeedConfig
from streams.poller.factory import create_poller
from tests.feedserver import FeedServer
from wirewatch.settings import Settings

from .conftest import FakeClock, read_topic

pytestmark = pytest.mark.kafka

NOT_FEEDS = {"README.md", "MANIFEST.jsonl"}


def corpus_files(corpus_dir: Path) -> list[Path]:
    files = []
    for folder in ("feedparser", "news/feeds"):
        files += [
            p.relative_to(corpus_dir)
            for p in sorted((corpus_dir / folder).rglob("*"))
            if p.is_file() and p.name not in NOT_FEEDS
        ]
    return files


async def test_every_corpus_feed_yields_articles_or_a_recorded_error(
    corpus_dir: Path,
    feed_server: FeedServer,
    kafka_bootstrap: str,
    poller_settings: Settings,
    clock: FakeClock,
) -> None:
    files = corpus_files(corpus_dir)
    assert len(files) > 2200
    feeds = [FeedConfig(url=feed_server.file_url(path)) for path in files]
    settings = poller_settings.model_copy(
        # One loopback host serves everything and shares two cores with the parser threads: a
        # generous deadline keeps CPU contention from reading as a slow server.
        update={
            "poll_concurrency": 64,
            "poll_per_host_concurrency": 64,
            "fetch_total_timeout_seconds": 60,
        }
    )
    # Parsing in two worker processes, as on a 2-core machine in production.
    poller = create_poller(
        settings.model_copy(update={"poll_parse_processes": 2}),
        feeds,
        bootstrap=kafka_bootstrap,
        clock=clock,
        rng=random.Random(1),
    )
    report = await poller.poll_once()
    await poller.close()

    assert len(report.outcomes) == len(feeds)  # every feed has an outcome; none crashed the poller
    counts = Counter(report.outcomes.values())
    assert "error:internal" not in counts
    by_folder: dict[str, Counter[str]] = {}
    for feed, path in zip(feeds, files, strict=True):
        outcome = report.outcomes[feed.url]
        folder = "/".join(path.parts[:2])
        by_folder.setdefault(folder, Counter())[outcome.split(":")[0]] += 1
        state = poller.state.feeds[feed.url]
        if outcome.startswith("error:"):
            # The error is recorded in the feed's health, with a kind and a message.
            assert state.error_streak == 1 and state.last_error and state.last_error_kind
        else:
            assert outcome in ("articles", "empty")
            assert state.error_streak == 0 and state.last_success_at == clock.now()
    records = read_topic(kafka_bootstrap, settings.articles_topic)
    keys = [key for key, _ in records]
    assert len(keys) == len(set(keys)) == report.published
    print(
        f"\ncorpus: {len(feeds)} files, {report.entries} entries, "
        f"{report.published} unique articles published"
    )
    print("outcomes:", dict(sorted(counts.items())))
    for folder, folder_counts in sorted(by_folder.items()):
        print(f"  {folder}: {dict(sorted(folder_counts.items()))}")

    # Most of feedparser's fixtures test feed-level elements and hold no entry at all ("empty":
    # a success with nothing to publish); the ill-formed ones are errors, recorded per feed.
    assert counts["articles"] > 600
    assert counts["articles"] + counts["empty"] > len(feeds) * 0.8
    assert not [
        k
        for k in counts
        if k.startswith("error:") and k not in ("error:malformed", "error:entities")
    ]
    assert by_folder["news/feeds"]["articles"] >= 90
