"""Debian's Prometheus scraping a running poller and worker, with the alert rules loaded.

The Compose services run as local processes (``tests/deploy/stack.py``) against the real test
broker, a loopback feed server (the bundled demo feed, plus a feed that answers 404) and a loopback
Slack server. One record that is not an article goes onto the articles topic, so detection
dead-letters it. Prometheus runs on loopback with the repository's rule file and static targets
in place of Docker's DNS (same job names). Its HTTP API must then show every series the dashboard
and the rules read, with the labels they select and group by, evaluate every rule without error,
and fire the dead-letter alert from the worker's real series.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kafka import KafkaProducer

from tests.deploy.monitoring import (
    RULES,
    dashboard_expressions,
    label_matchers,
    metric_names,
    rule_expressions,
    tool,
)
from tests.deploy.stack import (
    DemoStack,
    demo_stack,
    load_compose,
    wait_until,
)
from tests.slackserver import VALID_TOKEN, SlackServer
from wirewatch.localkafka import free_port

_GROUPING = re.compile(r"\bby\s*\(([^)]*)\)")
# Labels Prometheus adds to every target, and the histogram bucket bound.
TARGET_LABELS = {"job", "instance", "le"}


LATE_FEED = "late.xml"
LATE_TITLE = "Chinese startup DeepSeek releases an open large language model that rivals GPT-4"


def rss(*titles: str) -> bytes:
    """A small RSS 2.0 feed with one item per title."""
    items = "".join(
        f"<item><title>{title}</title><link>http://127.0.0.1/late/{i}</link>"
        f"<guid>late-{i}</guid><description>{title}.</description></item>"
        for i, title in enumerate(titles)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Late wire</title>'
        f"<link>http://127.0.0.1/</link><description>Late</description>{items}</channel></rss>"
    ).encode()


class Prometheus:
    """Debian's ``prometheus`` on a free loopback port with its own storage; stopped by its pid."""

    def __init__(self, config: dict[str, Any], work_dir: Path) -> None:
        self.port = free_port()
        self.config_path = work_dir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = work_dir / "prometheus.log"
        self.argv = [
            tool("prometheus"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={work_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.ready, 60, 0.5, "Prometheus to be ready")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log()
        try:
            return self.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def get(self, path: str, **params: str) -> httpx.Response:
        url = f"http://127.0.0.1:{self.port}{path}"
        return httpx.get(url, params=params, timeout=10, trust_env=False)

    def api(self, path: str, **params: str) -> Any:
        body = self.get(f"/api/v1/{path}", **params).json()
        assert body["status"] == "success", body
        return body["data"]

    def series(self, name: str) -> list[dict[str, str]]:
        """Label sets of the current series called ``name``."""
        result = self.api("query", query=f'{{__name__="{name}"}}')["result"]
        return [sample["metric"] for sample in result]


def scrape_config(poller_port: int, worker_port: int) -> dict[str, Any]:
    """deploy/monitoring's jobs with static loopback targets, scraped and evaluated every second."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "wirewatch-poller",
                "static_configs": [{"targets": [f"127.0.0.1:{poller_port}"]}],
            },
            {
                "job_name": "wirewatch-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
            },
        ],
    }


def grouping_labels(expression: str) -> set[str]:
    """Labels an expression groups by (``sum by (topic) (...)``)."""
    return {
        label.strip() for group in _GROUPING.findall(expression) for label in group.split(",")
    } - {""}


@pytest.mark.kafka
@pytest.mark.model
def test_prometheus_scrapes_the_series_the_dashboard_and_rules_use(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    compose = load_compose()
    # A feed that answers 404 makes the feed error series exist; a second one, empty for now,
    # brings a new story later.
    with demo_stack(
        compose,
        bootstrap=kafka_bootstrap,
        unique_name=unique_name,
        work_dir=tmp_path,
        extra_feed_paths=("/status/404", f"/doc/{LATE_FEED}"),
    ) as stack:
        stack.feed_server.put(LATE_FEED, rss())
        processes = stack.processes
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        poison = b"this is not an articles.v1 record"
        producer.send(stack.overrides["WIREWATCH_ARTICLES_TOPIC"], key=b"poison", value=poison)
        producer.flush()
        producer.close()
        worker, poller = processes["worker"].start(), processes["poller"].start()
        prometheus = Prometheus(scrape_config(stack.poller_port, stack.worker_port), tmp_path)
        try:
            with prometheus:
                check_prometheus(prometheus, stack.slack, stack.channels)
                check_auth_pause(prometheus, stack)
        finally:
            codes = {name: processes[name].stop() for name in ("poller", "worker")}
        assert codes == {"poller": 0, "worker": 0}, worker.log()[-3000:] + poller.log()[-3000:]


def check_prometheus(prometheus: Prometheus, slack: SlackServer, channels: tuple[str, ...]) -> None:
    expressions = rule_expressions() + dashboard_expressions()
    names = sorted(metric_names(expressions))

    def scraped(name: str) -> bool:
        return bool(prometheus.series(name))

    # The demo feed's stories reach Slack; then every series the panels and rules read exists.
    wait_until(lambda: slack.posts(), 300, 2, "an alert in the Slack server")
    for name in names:
        wait_until(lambda n=name: scraped(n), 120, 1, f"{name} in Prometheus")

    up = {s["metric"]["job"] for s in prometheus.api("query", query="up == 1")["result"]}
    assert up == {"wirewatch-poller", "wirewatch-worker"}

    # Each series comes from the job that owns it, with the label values the rules select.
    jobs = {name: {s["job"] for s in prometheus.series(name)} for name in names}
    assert jobs["wirewatch_feeds"] == {"wirewatch-poller"}
    assert jobs["wirewatch_consumer_lag"] == {"wirewatch-worker"}
    for name, label, operator, value in label_matchers(expressions):
        values = {s.get(label) for s in prometheus.series(name)}
        if operator == "=":
            assert value in values, f"{name}{{{label}={value!r}}}: Prometheus has {values}"
        elif operator == "=~":
            assert any(v and re.fullmatch(value, v) for v in values), (name, label, value)
    # Every label an expression groups by is on the series it reads.
    for expression in expressions:
        labels = grouping_labels(expression) - TARGET_LABELS
        present = {
            key for name in metric_names([expression]) for s in prometheus.series(name) for key in s
        }
        assert labels <= present, f"{expression}: no series has {labels - present}"

    matches = prometheus.series("wirewatch_matches_total")
    assert all(s["topic"] for s in matches)
    posts = prometheus.series("wirewatch_alert_posts_total")
    # Both stages measured their latency: publish -> detect for every article, match -> Slack
    # for every post.
    for stage in ("detect", "alert"):
        count = f'wirewatch_stage_latency_seconds_count{{stage="{stage}"}} > 0'
        assert prometheus.api("query", query=count)["result"], stage
    # Posts are counted per channel the watchlist routes to.
    assert posts and {s["channel"].lstrip("#") for s in posts} <= set(channels)

    # The rules evaluate on the live series without error, and the poison record's dead letter
    # fires the detection dead-letter alert (it has no `for`).
    def evaluated() -> bool:
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        return all(r["lastEvaluation"] > "2000" for r in rules)

    wait_until(evaluated, 60, 1, "every rule to be evaluated once")
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    def firing(name: str) -> list[dict[str, Any]]:
        alerts = prometheus.api("alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

    wait_until(lambda: firing("WirewatchDetectionDeadLetters"), 60, 1, "the dead-letter alert")
    (alert,) = firing("WirewatchDetectionDeadLetters")
    assert alert["labels"]["kind"] == "invalid_record"
    assert alert["annotations"]["runbook"] == "deploy/README.md#wirewatchdetectiondeadletters"


def check_auth_pause(prometheus: Prometheus, stack: DemoStack) -> None:
    """Slack refuses the token: delivery held (auth) and health red in Prometheus, then back."""
    slack = stack.slack

    def value(query: str) -> float | None:
        result = prometheus.api("query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    held = 'wirewatch_alert_delivery_held{reason="auth"}'
    assert value(held) == 0 and value("wirewatch_worker_healthy") == 1
    slack.token = "xoxb-test-some-other-token"  # the worker's token is now refused: invalid_auth
    stack.feed_server.put(LATE_FEED, rss(LATE_TITLE))
    wait_until(lambda: value(held) == 1, 180, 1, "delivery held for auth in Prometheus")
    assert value("wirewatch_worker_healthy") == 0

    slack.token = VALID_TOKEN  # the token is fixed: the held alert is posted, once
    wait_until(lambda: value(held) == 0, 120, 1, "delivery resumed in Prometheus")
    wait_until(lambda: value("wirewatch_worker_healthy") == 1, 60, 1, "the worker healthy again")

    def late_posts() -> list[Any]:
        texts = [(p, " ".join([p.text or "", str(p.blocks or "")])) for p in slack.posts()]
        return [p for p, text in texts if p.authorized and "DeepSeek" in text]

    wait_until(late_posts, 60, 1, "the held alert in Slack")
    assert len(late_posts()) == 1
