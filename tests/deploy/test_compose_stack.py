"""``docker-compose.yml`` run for real, without Docker: each application service as a local process.

The services' own commands, environments and health checks (``tests/deploy/stack.py`` translates
Compose's addresses, mounts and secrets to this machine) run against the real test broker, a
loopback feed server serving the bundled demo feed and a loopback Slack server. The stack must
come up healthy, turn the served feed entries into Slack alerts, expose the metric series
deploy/README.md documents, log one JSON record per line, stop cleanly on SIGTERM, and come back
from a restart without publishing or posting anything twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.stack import (
    ServiceProcess,
    application_services,
    demo_stack,
    load_compose,
    wait_until,
)
from tests.slackserver import VALID_TOKEN, SlackServer

DEMO_TITLES = (
    "six-month pause",
    "moratorium on giant AI",
    "GPUs for a generative AI project",
)

# What one host cannot give each service the way a container does, and test speed.
POLLER_SERIES = {
    "wirewatch_feed_polls",
    "wirewatch_feed_errors",
    "wirewatch_articles_published",
    "wirewatch_poll_cycle_seconds",
    "wirewatch_feeds",
}
WORKER_SERIES = {
    "wirewatch_articles_detected",
    "wirewatch_detection_batch_seconds",
    "wirewatch_matches",
    "wirewatch_alerts",
    "wirewatch_slack_rate_limit_waits",
    "wirewatch_consumer_lag",
}


Series = dict[str, list[tuple[dict[str, str], float]]]


def scrape(port: int) -> Series:
    """Series name (without ``_total``) to its samples, from ``/metrics`` on loopback."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10, trust_env=False).text
    series: Series = {}
    for family in text_string_to_metric_families(text):
        # A family is listed even before its first labelled sample (no feed error yet).
        series.setdefault(family.name, [])
        for sample in family.samples:
            name = sample.name.removesuffix("_total")
            series.setdefault(name, []).append((sample.labels, sample.value))
    return series


def value(series: Series, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    samples = series.get(name, [])
    return sum(v for lab, v in samples if all(lab.get(k) == w for k, w in labels.items()))


def healthy(service: ServiceProcess) -> bool:
    assert service.alive(), f"{service.name} exited:\n{service.log()[-3000:]}"
    return service.check_health().returncode == 0


def alert_posts(slack: SlackServer) -> list[str]:
    texts = []
    for post in slack.posts():
        text = " ".join([post.text or "", str(post.blocks or "")])
        if any(title in text for title in DEMO_TITLES):
            texts.append(text)
    return texts


@pytest.mark.kafka
@pytest.mark.model
def test_compose_services_run_healthy_and_alert(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    compose = load_compose()
    services = application_services(compose)
    assert set(services) == {"topics", "poller", "worker"}
    with demo_stack(
        compose, bootstrap=kafka_bootstrap, unique_name=unique_name, work_dir=tmp_path
    ) as stack:
        slack, processes = stack.slack, stack.processes
        worker_port, poller_port = stack.worker_port, stack.poller_port
        worker, poller = processes["worker"].start(), processes["poller"].start()
        try:
            wait_until(lambda: healthy(poller), 120, 2, "the poller's health check")
            wait_until(lambda: healthy(worker), 300, 2, "the worker's health check")
            wait_until(lambda: alert_posts(slack), 180, 1, "an alert in the Slack server")
            poller_metrics = scrape(poller_port)
            wait_until(
                lambda: value(scrape(poller_port), "wirewatch_feed_polls", outcome="not_modified"),
                60,
                1,
                "a 304 on the second poll",
            )
            worker_metrics = scrape(worker_port)
            for service in (worker, poller):
                service.sample_rss()
            assert healthy(worker) and healthy(poller)
        finally:
            codes = {name: processes[name].stop() for name in ("poller", "worker")}
        logs = f"worker:\n{worker.log()[-3000:]}\npoller:\n{poller.log()[-3000:]}"
        assert codes == {"poller": 0, "worker": 0}, logs

        # `docker compose restart poller worker`: SIGTERM (above), then the same commands again.
        # The poller's state and the worker's posted-alerts table survive in Kafka: nothing is
        # published or posted twice.
        posted_before = [post.text for post in slack.posts()]
        worker, poller = worker.start(), poller.start()
        try:
            wait_until(lambda: healthy(poller), 120, 2, "the poller's health after a restart")
            wait_until(lambda: healthy(worker), 300, 2, "the worker's health after a restart")
            wait_until(
                lambda: value(scrape(poller_port), "wirewatch_feed_polls") >= 3,
                60,
                1,
                "three polls after the restart",
            )
            restarted = scrape(poller_port)
            wait_until(
                lambda: value(scrape(worker_port), "wirewatch_consumer_lag") == 0,
                60,
                1,
                "the restarted worker to catch up",
            )
        finally:
            codes = {name: processes[name].stop() for name in ("poller", "worker")}
        assert codes == {"poller": 0, "worker": 0}
        assert value(restarted, "wirewatch_articles_published") == 0
        assert value(restarted, "wirewatch_feed_polls", outcome="not_modified") >= 1
        assert [post.text for post in slack.posts()] == posted_before

    # WIREWATCH_LOG_FORMAT=json (Compose's setting): one JSON object per line, no token anywhere.
    for service in (worker, poller):
        records = [json.loads(line) for line in service.log().splitlines()]
        assert records and all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
        assert VALID_TOKEN not in service.log()
    # Every alert came with the bot token from the secret file and names a demo story.
    assert all(post.authorized for post in slack.posts())
    # (c) the documented series exist and count what happened.
    assert set(poller_metrics) >= POLLER_SERIES, sorted(poller_metrics)
    assert value(poller_metrics, "wirewatch_articles_published") >= 4
    assert value(poller_metrics, "wirewatch_feed_polls", outcome="articles") >= 1
    assert set(worker_metrics) >= WORKER_SERIES, sorted(worker_metrics)
    assert value(worker_metrics, "wirewatch_articles_detected") >= 4
    assert value(worker_metrics, "wirewatch_alerts", outcome="posted") >= 1
    assert value(worker_metrics, "wirewatch_matches") >= 1
