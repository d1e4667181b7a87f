"""Benchmark of the feed poller: a loopback farm of feeds, each answer delayed by 200 ms.

Measures, and prints:

1. the first full cycle (every feed fetched, parsed and its articles published) against a
   sequential fetch of the same feeds. The sequential baseline is measured on a sample of feeds
   (``--sample``, default 50) with one connection at a time and extrapolated to the whole farm;
   it is shown both as fetch only and as fetch + parse;
2. a second cycle where every feed answers 304: time, bytes on the wire against the first cycle,
   records published and state records written (both must be zero);
3. a third cycle where 10% of the feeds gained one entry (the rest answer 304): time against the
   sequential fetch, and exactly the new entries published;
4. parse throughput (feedparser + article building) in entries per second, in this process.

The farm runs in a process of its own (an asyncio server on 127.0.0.1). Every feed has its own
host name (``feedNNNN.bench.test``), answered 127.0.0.1 by a stub resolver,
so that the per-host limit applies as it would on the internet; all traffic stays on loopback.
Articles go to a counting publisher (in memory) unless ``--bootstrap`` names a Kafka broker, in
which case they are published to fresh topics on it through the real producer.

Run: ``.venv/bin/python bench/poll.py [--feeds 1000] [--entries 20] [--bootstrap HOST:PORT]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.poller.config import FeedConfig
from streams.poller.factory import create_kafka_parts, create_poller, fetch_options
from streams.poller.fetcher import Fetcher
from streams.poller.guard import AddressGuard, AddressPolicy
from streams.poller.parse_pool import ParsePool
from streams.poller.parser import ParseJob, run_parse_job
from streams.poller.state import MemoryStateBackend, StateStore
from streams.records import ArticleV1
from tests.feedserver import FeedServer
from wirewatch.settings import Settings


class CountingPublisher:
    """Counts what would be published; acknowledges everything."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0

    async def start(self, stop: asyncio.Event | None = None) -> bool:
        return True

    async def close(self) -> None:
        return None

    async def publish(self, articles: Sequence[ArticleV1]) -> set[str]:
        self.records += len(articles)
        self.bytes += sum(len(a.to_json()) for a in articles)
        return {a.id for a in articles}


def feed_body(index: int, entries: int, first: int = 0) -> bytes:
    items = "".join(
        f"<item><title>Site {index} story {k}: a headline of a typical length for news</title>"
        f"<link>https://site{index}.example/news/{k}?utm_source=rss</link>"
        f"<guid>https://site{index}.example/news/{k}</guid>"
        f"<pubDate>Thu, 26 Nov 2026 08:{k % 60:02d}:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Lead paragraph of story {k} with &lt;b&gt;some&lt;/b&gt; markup"
        " and enough words to look like the summary a news site puts in its feed.&lt;/p&gt;"
        "</description></item>"
        for k in reversed(range(first, first + entries))
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Site {index}</title><link>https://site{index}.example/</link>{items}"
        "</channel></rss>"
    ).encode()


def _serve_farm(conn: Connection, feeds: int, entries: int, latency: float) -> None:
    server = FeedServer(latency_s=latency)
    server.start()
    for i in range(feeds):
        server.put(f"f{i:04d}", feed_body(i, entries))
    conn.send(server.port)
    while (command := conn.recv()) != "stop":
        if isinstance(command, tuple):
            # ("grow", [feed indexes]): each of those feeds gains one newer entry.
            for i in command[1]:
                server.put(f"f{i:04d}", feed_body(i, entries + 1))
            conn.send(None)
            continue
        conn.send(server.bytes_sent if command == "bytes" else None)
    server.stop()
    conn.send(None)


class FarmProcess:
    """The feed farm in a process of its own, so that serving does not share the poller's GIL."""

    def __init__(self, feeds: int, entries: int, latency: float) -> None:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve_farm, args=(child, feeds, entries, latency), daemon=True
        )
        self._process.start()
        self.port: int = self._conn.recv()

    def bytes_sent(self) -> int:
        self._conn.send("bytes")
        return int(self._conn.recv())

    def grow(self, indexes: list[int]) -> None:
        self._conn.send(("grow", indexes))
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._process.join(10)


async def loopback_resolver(host: str, port: int) -> list[str]:
    if not host.endswith(".bench.test"):
        msg = f"the benchmark resolves only *.bench.test, not {host}"
        raise OSError(msg)
    return ["127.0.0.1"]


async def sequential_sample(
    settings: Settings, feeds: Sequence[FeedConfig]
) -> tuple[float, float, int]:
    """Fetch (and then parse) each sampled feed one after the other: seconds fetch, parse."""
    options = fetch_options(settings)
    fetcher = Fetcher(
        options.__class__(**{**options.__dict__, "concurrency": 1, "per_host_concurrency": 1}),
        AddressGuard(AddressPolicy(allow_loopback=True), loopback_resolver),
    )
    fetch_s = parse_s = 0.0
    entries = 0
    for feed in feeds:
        started = time.perf_counter()
        result = await fetcher.fetch(feed.url)
        fetched = time.perf_counter()
        outcome = run_parse_job(
            ParseJob(result.body, result.headers, result.url, feed.url, "", (), datetime.now(UTC))
        )
        fetch_s += fetched - started
        parse_s += time.perf_counter() - fetched
        entries += outcome.entries
    await fetcher.aclose()
    return fetch_s, parse_s, entries


def parse_throughput(bodies: Sequence[bytes]) -> tuple[int, float]:
    started = time.perf_counter()
    entries = 0
    for body in bodies:
        job = ParseJob(
            body,
            {"content-type": "application/rss+xml"},
            "https://x/",
            "https://x/",
            "",
            (),
            datetime.now(UTC),
        )
        entries += run_parse_job(job).entries
    return entries, time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    server = FarmProcess(args.feeds, args.entries, args.latency)
    bodies = [feed_body(i, args.entries) for i in range(args.feeds)]
    feeds = [
        FeedConfig(url=f"http://feed{i:04d}.bench.test:{server.port}/doc/f{i:04d}")
        for i in range(args.feeds)
    ]
    settings = Settings(
        allow_loopback=True,
        poll_concurrency=args.concurrency,
        poll_per_host_concurrency=2,
        fetch_total_timeout_seconds=120,
        articles_topic=f"bench-{uuid.uuid4().hex[:8]}.articles",
        poller_state_topic=f"bench-{uuid.uuid4().hex[:8]}.state",
    )
    pool = ParsePool(args.processes or None, deadline_s=120)
    # Warm the workers up (imports) outside the measured cycle.
    warm_job = ParseJob(bodies[0], {}, "https://x/", "https://x/", "", (), datetime.now(UTC))
    await asyncio.gather(*(pool.parse(warm_job) for _ in range(pool.processes)))
    counting = CountingPublisher()
    if args.bootstrap:
        publisher, state = create_kafka_parts(settings, args.bootstrap)
        target = (
            f"Kafka at {args.bootstrap} (topic {settings.articles_topic}, acks=all, idempotent)"
        )
        if args.memory_state:
            state = StateStore(MemoryStateBackend())
            target += ", state in memory"
    else:
        publisher, state = counting, StateStore(MemoryStateBackend())  # type: ignore[assignment]
        target = "a counting publisher in memory (no Kafka)"
    poller = create_poller(
        settings,
        feeds,
        publisher=publisher,
        state=state,
        resolver=loopback_resolver,
        rng=random.Random(1),
        parse_pool=pool,
    )
    await poller.start()
    if args.bootstrap:
        # A fresh broker's JVM is slow for its first thousands of records (JIT warm-up, the
        # idempotent producer's id): warm it with throw-away records outside the measurement.
        warm = [
            ArticleV1(id=f"warm-{n}", title="warm-up", link=f"https://warm.example/{n}")
            for n in range(2000)
        ]
        await publisher.publish(warm)
        target += "; broker warmed with 2,000 records first (same topic, ids warm-*)"

    sent_before = server.bytes_sent()
    started = time.perf_counter()
    first = await poller.poll_once()
    first_s = time.perf_counter() - started
    first_bytes = server.bytes_sent() - sent_before

    sent_before = server.bytes_sent()
    started = time.perf_counter()
    second = await poller.poll_once(ignore_schedule=True)
    second_s = time.perf_counter() - started
    second_bytes = server.bytes_sent() - sent_before

    grown = sorted(random.Random(2).sample(range(len(feeds)), max(1, len(feeds) // 10)))
    server.grow(grown)
    sent_before = server.bytes_sent()
    started = time.perf_counter()
    third = await poller.poll_once(ignore_schedule=True)
    third_s = time.perf_counter() - started
    third_bytes = server.bytes_sent() - sent_before
    await poller.close()

    sample = feeds[: args.sample]
    fetch_s, parse_s, _ = await sequential_sample(settings, sample)
    scale = len(feeds) / len(sample)
    seq_fetch = fetch_s * scale
    seq_total = (fetch_s + parse_s) * scale
    entries, parse_elapsed = parse_throughput(bodies[: max(1, min(len(bodies), 200))])
    server.stop()
    pool.close()

    print(
        f"farm: {len(feeds)} loopback feeds x {args.entries} entries, "
        f"{args.latency * 1000:.0f} ms added latency per answer"
    )
    print(
        f"poller: concurrency {args.concurrency}, 2 per host, parsing in {pool.processes} "
        f"processes; publishing to {target}"
    )
    print(
        f"first cycle:  {first_s:7.2f} s  {first.counts()}  "
        f"{first.published} records published, {first.entries} entries"
    )
    print(
        f"sequential:   {seq_fetch:7.2f} s fetch only, {seq_total:7.2f} s fetch+parse "
        f"(measured on {len(sample)} feeds one at a time, extrapolated x{scale:g})"
    )
    print(
        f"ratio:        {first_s / seq_fetch:7.3f} x of sequential fetch, "
        f"{first_s / seq_total:.3f} x of sequential fetch+parse (target <= 0.03)"
    )
    print(
        f"second cycle: {second_s:7.2f} s  {second.counts()}  {second.published} records "
        f"published, {second.state_records} state records written (target 0 and 0)"
    )
    print(
        f"bytes:        first {first_bytes:,} B, second {second_bytes:,} B on the wire "
        f"(server side, headers included): {second_bytes / first_bytes:.2%} (target <= 1%)"
    )
    exact = "exactly the new entries" if third.published == len(grown) else "NOT the new entries"
    print(
        f"10% changed:  {third_s:7.2f} s  {third_s / seq_fetch:.4f} x of sequential fetch "
        f"(target <= 0.01); {len(grown)} feeds gained one entry, {third.published} records "
        f"published ({exact}), {third.entries} entries parsed, {third.entries_skipped} "
        f"skipped unparsed, {third.state_records} state records, {third_bytes:,} B on the wire"
    )
    print(
        f"parse:        {entries / parse_elapsed:,.0f} entries/s "
        f"(feedparser + article building, one thread, {entries} entries)"
    )
    if not args.bootstrap:
        print(f"counted:      {counting.records} records, {counting.bytes:,} B of JSON")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added per answer")
    parser.add_argument("--concurrency", type=int, default=64, help="poll_concurrency")
    parser.add_argument(
        "--processes", type=int, default=0, help="parse processes (0: one per CPU core)"
    )
    parser.add_argument("--sample", type=int, default=50, help="feeds fetched sequentially")
    parser.add_argument("--bootstrap", help="publish to this Kafka instead of counting")
    parser.add_argument(
        "--memory-state", action="store_true", help="with --bootstrap: keep state in memory"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
