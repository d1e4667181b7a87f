"""The series the alert rules and the dashboard read: they exist in the code, and count right.

Every series name an alert rule or a dashboard panel uses must be one the poller's or the worker's
registry exposes (or one Prometheus makes itself, like ``up``): a renamed metric would otherwise
leave an alert that can never fire and an empty panel.
"""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import DEAD_LETTER_KINDS, HELD_REASONS, LATENCY_STAGES, WorkerMetrics
from streams.runtime import Runtime
from tests.deploy.monitoring import (
    PROMETHEUS_BUILTINS,
    dashboard_expressions,
    label_matchers,
    metric_names,
    registry_names,
    rule_expressions,
)
from wirewatch.settings import load_settings


def samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_every_series_the_rules_and_dashboard_read_exists_in_the_code() -> None:
    used = metric_names(rule_expressions()) | metric_names(dashboard_expressions())
    assert len(used) >= 15
    known = registry_names() | PROMETHEUS_BUILTINS
    assert sorted(used - known) == []


def test_label_values_the_rules_and_dashboard_select_are_ones_the_code_writes() -> None:
    from streams.metrics import ALERT_OUTCOMES
    from streams.poller_metrics import FEED_OUTCOMES, FEED_STATUSES

    written = {
        ("wirewatch_alerts_total", "outcome"): set(ALERT_OUTCOMES),
        ("wirewatch_feed_polls_total", "outcome"): set(FEED_OUTCOMES),
        ("wirewatch_feeds", "status"): set(FEED_STATUSES),
        ("wirewatch_alert_delivery_held", "reason"): set(HELD_REASONS),
        ("wirewatch_dead_letters_total", "stage"): set(DEAD_LETTER_KINDS),
        ("wirewatch_stage_latency_seconds_bucket", "stage"): set(LATENCY_STAGES),
    }
    expressions = rule_expressions() + dashboard_expressions()
    for name, label, operator, value in label_matchers(expressions):
        if label in ("job", "le"):
            continue
        assert (name, label) in written, f"{name}{{{label}}} is not a label the code writes"
        wanted = set(value.split("|")) if operator == "=~" else {value}
        assert wanted <= written[(name, label)], f"{name}{{{label}{operator}{value!r}}}"


def test_worker_series_for_delivery_posts_latency_and_health() -> None:
    metrics = WorkerMetrics()
    before = samples(metrics)
    # Present from the first scrape, so a rule on them does not wait for a first event.
    for reason in HELD_REASONS:
        assert before[("wirewatch_alert_delivery_held", (("reason", reason),))] == 0
    for stage in LATENCY_STAGES:
        key = ("wirewatch_stage_latency_seconds_count", (("stage", stage),))
        assert before[key] == 0
    for stage, kinds in DEAD_LETTER_KINDS.items():
        for kind in kinds:
            key = ("wirewatch_dead_letters_total", (("kind", kind), ("stage", stage)))
            assert before[key] == 0
    # No health source yet: no sample (unknown is not "healthy").
    assert not [k for k in before if k[0] == "wirewatch_worker_healthy"]

    metrics.delivery_held("auth", True)
    metrics.posted("#ai-policy", 4.0)
    metrics.posted("#ai-policy", None)
    metrics.detect_latency(12.0)
    metrics.detect_latency(-1.0)  # clocks of two machines: never a negative latency
    metrics.watch_health(lambda: {"ok": False})
    after = samples(metrics)
    assert after[("wirewatch_alert_delivery_held", (("reason", "auth"),))] == 1
    assert after[("wirewatch_alert_posts_total", (("channel", "#ai-policy"),))] == 2
    assert after[("wirewatch_stage_latency_seconds_count", (("stage", "alert"),))] == 1
    assert after[("wirewatch_stage_latency_seconds_sum", (("stage", "alert"),))] == 4.0
    assert after[("wirewatch_stage_latency_seconds_count", (("stage", "detect"),))] == 2
    assert after[("wirewatch_stage_latency_seconds_sum", (("stage", "detect"),))] == 12.0
    assert after[("wirewatch_worker_healthy", ())] == 0
    metrics.delivery_held("auth", False)
    assert samples(metrics)[("wirewatch_alert_delivery_held", (("reason", "auth"),))] == 0


def test_worker_healthy_follows_the_runtime_health_report() -> None:
    runtime = Runtime(
        settings=load_settings(), topics=None, watchlist=None, pool=None, alerting=None
    )  # type: ignore[arg-type]
    assert samples(runtime.metrics)[("wirewatch_worker_healthy", ())] == 1
    runtime.health.delivery_paused = "invalid_auth"
    assert samples(runtime.metrics)[("wirewatch_worker_healthy", ())] == 0
