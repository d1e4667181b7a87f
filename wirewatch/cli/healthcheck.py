"""``wirewatch healthcheck``: exit 0 when this process can do its job, 1 with the reason if not.

Docker and Compose run it inside the container (``healthcheck: test: [CMD, wirewatch,
healthcheck]``). It checks, in order: the settings load, Kafka answers a metadata request, and
the component's own ``/health`` endpoint on loopback says ok (the worker: delivery not paused by
a Slack authentication error, stream not stalled; the poller: cycles finishing and Kafka taking
its articles). Docker reserves exit code 2, so every failure here, ours or not, exits 1.
"""

from __future__ import annotations

import json
from typing import Any

import click

COMPONENTS = ("worker", "poller", "kafka")


def kafka_problem(bootstrap: str, client_options: dict[str, Any], timeout_s: float) -> str | None:
    """Why Kafka at ``bootstrap`` is not usable, or None when it answers a metadata request."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="wirewatch-healthcheck",
            request_timeout_ms=int(timeout_s * 1000),
            **client_options,
        )
    except (KafkaError, OSError, ValueError) as exc:
        return f"Kafka unreachable at {bootstrap}: {type(exc).__name__}"
    try:
        admin.describe_cluster()
    except (KafkaError, OSError) as exc:
        return f"Kafka at {bootstrap} does not answer: {type(exc).__name__}"
    finally:
        admin.close()
    return None


def endpoint_problem(url: str, timeout_s: float) -> str | None:
    """Why the ``/health`` endpoint at ``url`` is not ok, or None when it is."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout_s, trust_env=False)
    except httpx.HTTPError as exc:
        return f"{url} did not answer: {type(exc).__name__}"
    try:
        report = response.json()
    except json.JSONDecodeError:
        return f"{url} answered HTTP {response.status_code} without a health report"
    if response.status_code == 200 and report.get("ok"):
        return None
    if report.get("reason"):
        reason = str(report["reason"])
    elif report.get("delivery_paused"):
        reason = f"delivery paused: {report['delivery_paused']}"
    elif report.get("stalled"):
        reason = f"stream stalled: {report['stalled']}"
    else:
        reason = f"HTTP {response.status_code}"
    return f"{url} reports unhealthy: {reason}"


def check(component: str, timeout_s: float) -> str | None:
    """The first problem found for ``component``, or None when healthy."""
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.errors import WirewatchError
    from wirewatch.kafka_config import kafka_python_kwargs
    from wirewatch.settings import load_settings

    try:
        settings = load_settings()
        bootstrap = resolve_bootstrap(settings, start_local=False)
        options = kafka_python_kwargs(settings)
    except WirewatchError as exc:
        return str(exc)
    problem = kafka_problem(bootstrap, options, timeout_s)
    if problem or component == "kafka":
        return problem
    port = settings.web_port if component == "worker" else settings.poller_web_port
    if not port:
        return f"the {component}'s web port is 0 (disabled): nothing to ask"
    return endpoint_problem(f"http://127.0.0.1:{port}/health", timeout_s)


@click.command()
@click.option(
    "--component",
    type=click.Choice(COMPONENTS),
    default="worker",
    envvar="WIREWATCH_COMPONENT",
    show_envvar=True,
    help="What runs in this container: its /health endpoint is asked after Kafka.",
)
@click.option("--timeout", "timeout_s", type=float, default=5.0, help="Seconds per probe.")
def healthcheck(component: str, timeout_s: float) -> None:
    """Exit 0 when healthy; print the reason and exit 1 when not (Docker HEALTHCHECK)."""
    try:
        problem = check(component, timeout_s)
    except Exception as exc:  # a health check must answer 0 or 1, never crash with 2
        problem = f"health check failed: {type(exc).__name__}: {exc}"
    if problem:
        click.echo(f"unhealthy: {problem}", err=True)
        raise SystemExit(1)
    click.echo(f"healthy: {component}")
