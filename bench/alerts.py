"""Alert benchmark: rendering cost, and delivery through the real slack-sdk client on loopback.

Run on demand (not in CI): ``.venv/bin/python bench/alerts.py``. Prints:

1. render_alert per second for a typical alert and for a pathological one (megabytes of markup,
   thousands of entities), and render_digest of 40 alerts;
2. chat.postMessage round trips per second through SlackBotSink (AsyncWebClient) against the
   loopback Slack server with pacing off (the client's own overhead, not Slack's limits);
3. wall time for a burst of 500 alerts for one channel through the dispatcher with the real
   one-second pace: how many messages reach Slack and how long the backlog takes to drain.

All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.dispatch import AlertDispatcher
from alerts.formatting import render_alert, render_digest
from alerts.sinks.slack_bot import SlackBotSink
from tests.alerts.conftest import build_alert
from tests.slackserver import VALID_TOKEN, SlackServer


def rate(label: str, fn: object, seconds: float = 1.0) -> None:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()  # type: ignore[operator]
        count += 1
    elapsed = time.perf_counter() - start
    print(f"{label}: {count / elapsed:,.0f}/s ({elapsed / count * 1000:.2f} ms each)")


async def deliver(server: SlackServer) -> None:
    sink = SlackBotSink(VALID_TOKEN, base_url=server.api_url)
    alerts = [build_alert(story_id=f"b{i}") for i in range(200)]
    start = time.perf_counter()
    for alert in alerts:
        await sink.send(render_alert(alert), "#news", [alert.alert_id])
    elapsed = time.perf_counter() - start
    print(f"chat.postMessage via AsyncWebClient, loopback: {len(alerts) / elapsed:,.0f}/s")

    dispatcher = AlertDispatcher(sink, digest_threshold=5)
    burst = [build_alert(story_id=f"burst{i}", channel="#alerts") for i in range(500)]
    start = time.perf_counter()
    results = await dispatcher.deliver_batch(burst)
    elapsed = time.perf_counter() - start
    posted = sum(1 for _, outcome in results if outcome.ok)
    print(
        f"burst of 500 for one channel: {len(server.posts('#alerts'))} messages, "
        f"{posted} alerts posted, drained in {elapsed:.1f} s at one message a second"
    )


def main() -> None:
    typical = build_alert()
    hostile = build_alert(
        title="<script" * 20_000,
        snippet="<a x" * 50_000,
        entities=tuple({"text": "e" * 1000, "label": "ORG"} for _ in range(10_000)),
    )
    rate("render_alert, typical", lambda: render_alert(typical))
    rate("render_alert, pathological", lambda: render_alert(hostile))
    forty = [build_alert(story_id=f"d{i}") for i in range(40)]
    rate("render_digest, 40 alerts", lambda: render_digest(forty, "#news"))
    with SlackServer() as server:
        asyncio.run(deliver(server))


if __name__ == "__main__":
    main()
