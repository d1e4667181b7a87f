"""The Prometheus alert rules and scrape config, checked by Debian's ``promtool``.

``promtool check`` validates the files; ``promtool test rules`` runs the unit tests next to the
rules (deploy/monitoring/prometheus/tests/): for every alert, series in and the alert out, plus the
near miss that must stay quiet. The tests also check that every alert has a unit test that makes
it fire, and that the unit tests would notice a broken rule.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.deploy.monitoring import (
    PROMETHEUS_CONFIG,
    RULE_TESTS,
    RULES,
    alert_rules,
    promtool,
    tool,
)


def test_scrape_config_is_valid() -> None:
    result = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = [rule["alert"] for rule in alert_rules()]
    assert len(alerts) == len(set(alerts)), "alert names must be unique"
    assert sorted(set(alerts) - firing) == []
    # Each alert says how bad it is and where its runbook is.
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        assert rule["annotations"]["runbook"] == f"deploy/README.md#{rule['alert'].lower()}"


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    # Without this, unit tests that expect nothing of anything would pass as well.
    copy = tmp_path / "prometheus"
    shutil.copytree(RULES.parent.parent, copy)
    rules = copy / "rules" / RULES.name
    text = rules.read_text()
    share = "/ clamp_min(sum(wirewatch_feeds), 1)"
    broken = text.replace(f"{share} > 0.5", f"{share} > 0.6")
    assert broken != text
    rules.write_text(broken)
    result = promtool("test", "rules", str(copy / "tests" / RULE_TESTS.name))
    assert result.returncode != 0
    assert "alertname: WirewatchFeedsFailing" in result.stdout + result.stderr


def test_a_missing_tool_fails_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(
        AssertionError, match=r"promtool is not installed.*apt-get install prometheus"
    ):
        tool("promtool")
