"""What the monitoring tests share: where the files are, the Prometheus tools, PromQL names.

The tools are Debian's ``prometheus`` package (``scripts/setup.sh`` installs it). A machine without
them fails the tests with the command that installs them, never skips them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.stack import REPO_ROOT

MONITORING = REPO_ROOT / "deploy" / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
RULES = MONITORING / "prometheus" / "rules" / "wirewatch.rules.yml"
RULE_TESTS = MONITORING / "prometheus" / "tests" / "wirewatch.rules.test.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "wirewatch.json"

# Series Prometheus makes itself for every target, and PromQL words that look like names.
PROMETHEUS_BUILTINS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
_NAME = re.compile(r"\b(wirewatch_[a-z0-9_]+|up)\b")
_SELECTOR = re.compile(r"\b(wirewatch_[a-z0-9_]+|up)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"")


def tool(name: str) -> str:
    """The path of ``promtool`` or ``prometheus``; a clear failure when it is not installed."""
    path = shutil.which(name)
    assert path, (
        f"{name} is not installed: the monitoring tests need Debian's prometheus package "
        "(scripts/setup.sh installs it as root; by hand: apt-get install prometheus)"
    )
    return path


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool`` with ``args``; output in ``stdout``/``stderr``."""
    return subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def alert_rules(path: Path = RULES) -> list[dict[str, Any]]:
    """Every alerting rule of a rule file."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_expressions(path: Path = DASHBOARD) -> list[str]:
    """Every PromQL expression of the Grafana dashboard (panel targets)."""
    dashboard = json.loads(path.read_text())

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    return [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", [])]


def rule_expressions(path: Path = RULES) -> list[str]:
    """Every PromQL expression of a rule file."""
    return [str(rule["expr"]) for rule in alert_rules(path)]


def metric_names(expressions: list[str]) -> set[str]:
    """The series names the expressions read."""
    return {name for expr in expressions for name in _NAME.findall(expr)}


def label_matchers(expressions: list[str]) -> set[tuple[str, str, str, str]]:
    """``(series, label, operator, value)`` of every label matcher in the expressions."""
    found = set()
    for expr in expressions:
        for name, body in _SELECTOR.findall(expr):
            for label, operator, value in _MATCHER.findall(body):
                found.add((name, label, operator, value))
    return found


def registry_names() -> set[str]:
    """Every sample name the poller's and the worker's registries can expose."""
    from prometheus_client import generate_latest

    from streams.metrics import WorkerMetrics
    from streams.poller_metrics import PollerMetrics

    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "gauge": ("",),
        "summary": ("", "_sum", "_count"),
    }
    names = set()
    for registry in (WorkerMetrics().registry, PollerMetrics().registry):
        for line in generate_latest(registry).decode().splitlines():
            if line.startswith("# TYPE "):
                family, kind = line.split()[2:4]
                base = family.removesuffix("_total")
                names.update(base + suffix for suffix in suffixes.get(kind, ("",)))
    return names
