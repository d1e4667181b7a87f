"""Memory of the Compose services, measured: what ``mem_limit`` in docker-compose.yml is sized from.

Runs ``docker-compose.yml``'s application services as local processes (the same translation as
``tests/deploy/stack.py``: the services' own commands and environments) against a fresh local
broker, a loopback farm of feeds built from the shared corpus's real news items, and a loopback
Slack server. Samples the peak resident set (``VmHWM``) of every process of each service (the
worker's detection processes and the poller's parse processes included) once a second, and prints
the peak per process and per service.

Run: ``.venv/bin/python bench/compose_memory.py [--feeds 200] [--entries 20] [--seconds 120]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import CORPUS_DIR
from tests.deploy.stack import (
    REPO_ROOT,
    application_services,
    load_compose,
    translate_service,
    watchlist_channels,
)
from tests.feedserver import FeedServer
from tests.slackserver import VALID_TOKEN, SlackServer
from wirewatch.localkafka import LocalKafka, free_port


def rss(items: list[dict[str, str]], name: str) -> bytes:
    """An RSS 2.0 document of ``items``."""
    from datetime import UTC, datetime

    now = format_datetime(datetime.now(UTC))
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
        f"<guid>{escape(i['id'])}</guid><pubDate>{now}</pubDate>"
        f"<description>{escape(i.get('summary') or '')}</description></item>"
        for i in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>http://127.0.0.1/</link><description>bench</description>"
        f"{entries}</channel></rss>"
    ).encode()


def scraped(port: str, name: str) -> float:
    """The sum of series ``name`` on ``/metrics`` at ``port`` (0 when unreachable)."""
    import httpx

    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10, trust_env=False).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()

    lines = (CORPUS_DIR / "news" / "items.jsonl").read_text().splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="wirewatch-memory-"))
    broker = LocalKafka(data_dir=work / "kafka", port=free_port(), controller_port=free_port())
    broker.start()
    compose = load_compose()
    try:
        watchlist = REPO_ROOT / "deploy" / "watchlists" / "example.yaml"
        channels = ("wirewatch", *watchlist_channels(watchlist))
        with FeedServer() as feeds, SlackServer(channels=channels) as slack:
            urls = []
            for n in range(args.feeds):
                chunk = [
                    dict(items[(n * args.entries + k) % len(items)], id=f"bench-{n}-{k}")
                    for k in range(args.entries)
                ]
                urls.append(feeds.put(f"feed{n}.xml", rss(chunk, f"feed {n}")))
            feeds_file = work / "feeds.yaml"
            listed = "".join(f"  - url: {u}\n    name: bench {i}\n" for i, u in enumerate(urls))
            feeds_file.write_text("feeds:\n" + listed)
            overrides = {
                "WIREWATCH_WEB_PORT": str(free_port()),
                "WIREWATCH_POLLER_WEB_PORT": str(free_port()),
                "WIREWATCH_WEB_BIND": "127.0.0.1",
                "WIREWATCH_FEEDS_FILE": str(feeds_file),
                "WIREWATCH_ALLOW_LOOPBACK": "true",
                "WIREWATCH_POLL_PER_HOST_CONCURRENCY": "16",
                "WIREWATCH_SLACK_API_URL": slack.api_url,
                "WIREWATCH_SLACK_DEFAULT_CHANNEL": "#wirewatch",
            }
            processes = {
                name: translate_service(
                    compose,
                    name,
                    bootstrap=broker.bootstrap,
                    work_dir=work,
                    secrets={"slack_token": VALID_TOKEN},
                    overrides=overrides,
                )
                for name in application_services(compose)
            }
            topics = processes["topics"]
            assert topics.run_to_completion(180) == 0, topics.log()[-2000:]
            topics.sample_rss()
            running = [processes["worker"].start(), processes["poller"].start()]
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                for service in running:
                    service.sample_rss()
                time.sleep(1)
            counts = {
                "published": scraped(
                    overrides["WIREWATCH_POLLER_WEB_PORT"], "wirewatch_articles_published_total"
                ),
                "detected": scraped(
                    overrides["WIREWATCH_WEB_PORT"], "wirewatch_articles_detected_total"
                ),
                "matches": scraped(overrides["WIREWATCH_WEB_PORT"], "wirewatch_matches_total"),
            }
            for service in running:
                service.stop()
            print(", ".join(f"{n:.0f} {what}" for what, n in counts.items()))
            print(f"{args.feeds} feeds x {args.entries} entries, {args.seconds:.0f} s")
            for service in [topics, *running]:
                peaks = service.peak_rss_kb
                detail = ", ".join(f"{kb / 1024:.0f}" for kb in peaks.values())
                print(
                    f"{service.name:<7} peak RSS {sum(peaks.values()) / 1024:6.0f} MiB "
                    f"({len(peaks)} processes: {detail} MiB)"
                )
            print(f"slack posts: {len(slack.posts())}")
            broker_pid = broker.pid()
            if broker_pid is not None:
                status = Path(f"/proc/{broker_pid}/status").read_text()
                hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
                print(
                    f"kafka   peak RSS {int(hwm.split()[1]) / 1024:6.0f} MiB (local broker)"
                )
    finally:
        broker.destroy()


if __name__ == "__main__":
    main()
