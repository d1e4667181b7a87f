"""``wirewatch healthcheck``, ``config dump`` and ``topics create`` as the containers run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from kafka import KafkaConsumer

from streams.health import WorkerHealth
from streams.poller_metrics import PollerTelemetry
from tests.deploy.stack import REPO_ROOT
from wirewatch.localkafka import free_port
from wirewatch.settings import load_settings


def wirewatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "wirewatch", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def poller_telemetry() -> Iterator[tuple[PollerTelemetry, int]]:
    telemetry = PollerTelemetry(load_settings())
    port = telemetry.serve(0, "127.0.0.1")
    yield telemetry, port
    telemetry.close()


@pytest.mark.kafka
def test_healthcheck_kafka_only(kafka_bootstrap: str) -> None:
    result = wirewatch(
        "healthcheck", "--component", "kafka", env={"WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "healthy: kafka"


def test_healthcheck_says_kafka_is_unreachable() -> None:
    closed = f"127.0.0.1:{free_port()}"
    result = wirewatch(
        "healthcheck",
        "--timeout",
        "2",
        env={"WIREWATCH_KAFKA_BOOTSTRAP": closed, "WIREWATCH_COMPONENT": "poller"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"unhealthy: Kafka unreachable at {closed}")


def test_healthcheck_exits_1_not_2_on_invalid_settings() -> None:
    # Docker reserves exit code 2; a broken configuration is simply unhealthy.
    result = wirewatch("healthcheck", env={"WIREWATCH_TOPIC_PARTITIONS": "zero"})
    assert result.returncode == 1
    assert "WIREWATCH_TOPIC_PARTITIONS" in result.stderr


@pytest.mark.kafka
def test_healthcheck_follows_the_poller_health_endpoint(
    kafka_bootstrap: str, poller_telemetry: tuple[PollerTelemetry, int]
) -> None:
    telemetry, port = poller_telemetry
    env = {
        "WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WIREWATCH_COMPONENT": "poller",
        "WIREWATCH_POLLER_WEB_PORT": str(port),
    }
    starting = wirewatch("healthcheck", env=env)
    assert starting.returncode == 1
    assert "no poll cycle finished" in starting.stderr
    telemetry.health.cycle_finished(polled=3, kafka_failures=0)
    assert wirewatch("healthcheck", env=env).returncode == 0
    telemetry.health.cycle_finished(polled=3, kafka_failures=2)
    failing = wirewatch("healthcheck", env=env)
    assert failing.returncode == 1
    assert "publishing to Kafka failed for 2 feeds" in failing.stderr


@pytest.mark.kafka
async def test_healthcheck_reports_a_worker_paused_by_slack_auth(kafka_bootstrap: str) -> None:
    # The worker's /health view is served here by aiohttp from a WorkerHealth, as Faust serves it.
    import asyncio

    health = WorkerHealth()

    async def view(request: web.Request) -> web.Response:
        report = health.report()
        return web.json_response(report, status=200 if report["ok"] else 503)

    app = web.Application()
    app.router.add_get("/health", view)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    env = {"WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap, "WIREWATCH_WEB_PORT": str(port)}
    try:
        ok = await asyncio.to_thread(wirewatch, "healthcheck", env=env)
        assert ok.returncode == 0, ok.stderr
        health.delivery_paused = "invalid_auth"
        paused = await asyncio.to_thread(wirewatch, "healthcheck", env=env)
        assert paused.returncode == 1
        assert "delivery paused: invalid_auth" in paused.stderr
    finally:
        await runner.cleanup()
    gone = await asyncio.to_thread(wirewatch, "healthcheck", env=env)
    assert gone.returncode == 1 and "did not answer" in gone.stderr


def test_config_dump_redacts_every_secret(tmp_path: Path) -> None:
    token_file = tmp_path / "slack_token"
    token_file.write_text("xoxb-do-not-print-me\n")
    env = {
        "WIREWATCH_SLACK_TOKEN_FILE": str(token_file),
        "WIREWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "WIREWATCH_KAFKA_SASL_USERNAME": "svc",
        "WIREWATCH_KAFKA_SASL_PASSWORD": "hunter2-kafka",
        "WIREWATCH_TOPIC_PARTITIONS": "6",
    }
    dumped = wirewatch("config", "dump", env=env)
    assert dumped.returncode == 0, dumped.stderr
    settings = json.loads(dumped.stdout)
    assert settings["topic_partitions"] == 6
    assert settings["slack_token"] == "**********"
    assert settings["kafka_sasl_password"] == "**********"
    as_env = wirewatch("config", "dump", "--format", "env", env=env)
    assert "WIREWATCH_TOPIC_PARTITIONS=6" in as_env.stdout.splitlines()
    for output in (dumped.stdout + dumped.stderr, as_env.stdout + as_env.stderr):
        assert "do-not-print-me" not in output and "hunter2" not in output


@pytest.mark.kafka
def test_topics_create_makes_every_topic_with_its_partitions(
    kafka_bootstrap: str, unique_name: str
) -> None:
    env = {
        "WIREWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WIREWATCH_TOPIC_PREFIX": unique_name,
        "WIREWATCH_ARTICLES_TOPIC": f"{unique_name}.articles.v1",
        "WIREWATCH_POLLER_STATE_TOPIC": f"{unique_name}.poller-state.v1",
        "WIREWATCH_TOPIC_PARTITIONS": "3",
    }
    first = wirewatch("topics", "create", env=env)
    assert first.returncode == 0, first.stderr
    listed = wirewatch("topics", "list", env=env)
    names = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert f"{unique_name}.poller-state.v1" in names and len(names) == 9
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        partitions = {name: len(consumer.partitions_for_topic(name) or ()) for name in names}
    finally:
        consumer.close()
    assert partitions[f"{unique_name}.articles.v1"] == 3
    assert partitions[f"{unique_name}.matches.v1"] == 3
    assert partitions[f"{unique_name}.watchlists.v1"] == 1
    assert partitions[f"{unique_name}.near-misses.v1"] == 3
    assert partitions[f"{unique_name}.poller-state.v1"] == 1
    # Idempotent: a second run (every `docker compose up`) creates nothing and succeeds.
    again = wirewatch("topics", "create", env=env)
    assert again.returncode == 0 and "(0 created)" in again.stdout
