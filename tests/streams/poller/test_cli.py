"""``wirewatch poll`` as an operator runs it: publishes, flushes and exits cleanly on SIGTERM;
``wirewatch feeds status`` reads the health back from the state topic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.feedserver import FeedServer

from .conftest import read_topic

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[3]


def test_poll_sigterm_then_once_then_status(
    feed_server: FeedServer, kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    items = "".join(
        f"<item><title>CLI {n}</title><link>https://news.example/cli/{n}</link></item>"
        for n in range(3)
    )
    url = feed_server.put("cli", f"<rss version='2.0'><channel>{items}</channel></rss>".encode())
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - url: {url}\n    name: CLI wire\n  - url: {feed_server.url('/status/410')}\n"
    )
    env = {
        **os.environ,
        "WIREWATCH_HOME": str(tmp_path / "home"),
        "WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WIREWATCH_ALLOW_LOOPBACK": "true",
        "WIREWATCH_ARTICLES_TOPIC": f"{unique_name}.articles",
        "WIREWATCH_POLLER_STATE_TOPIC": f"{unique_name}.state",
        "WIREWATCH_FEED_ERROR_THRESHOLD": "1",
        # A fixed telemetry port could be taken by another run on this machine.
        "WIREWATCH_POLLER_WEB_PORT": "0",
    }
    command = [sys.executable, "-m", "wirewatch"]
    log_path = tmp_path / "poll.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "poll", "--feeds", str(feeds)], cwd=REPO, env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 90
        records: list[tuple[str, dict[str, object]]] = []
        while time.monotonic() < deadline and len(records) < 3:
            time.sleep(0.5)
            assert process.poll() is None, log_path.read_text()
            records = read_topic(kafka_bootstrap, f"{unique_name}.articles")
        assert len(records) == 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    output = log_path.read_text()
    assert "needs attention" in output  # the 410 feed, threshold 1
    assert output.count("needs attention") == 1

    once = subprocess.run(
        [*command, "poll", "--feeds", str(feeds), "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert once.returncode == 0, once.stderr
    # The healthy feed is forced and answers 304; the failing one keeps its back-off.
    assert "polled 1 feeds (1 not_modified); published 0 articles" in once.stdout

    status = subprocess.run(
        [*command, "feeds", "status"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 1  # one feed needs attention
    lines = status.stdout.splitlines()
    assert (
        lines[0].startswith("attention")
        and "/status/410" in lines[0]
        and "gone: HTTP 410" in lines[0]
    )
    assert lines[1].startswith("ok") and url in lines[1] and "published 3" in lines[1]
    assert "2 feeds: 1 attention, 1 ok" in status.stdout
    assert "3 article ids remembered" in status.stdout
    assert len(read_topic(kafka_bootstrap, f"{unique_name}.articles")) == 3
