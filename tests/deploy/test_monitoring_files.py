"""The Compose profile `monitoring` and the Grafana files: wired to each other and to the services.

Compose schema validity of the whole file is tests/deploy/test_compose_file.py; here: the profile
is off by default, images are pinned, every mounted file exists, Prometheus discovers the services
on the ports they serve metrics on, and the dashboard's panels are well-formed PromQL on the
provisioned data source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.deploy.monitoring import (
    DASHBOARD,
    MONITORING,
    PROMETHEUS_CONFIG,
    alert_rules,
    dashboard_expressions,
    promtool,
)
from tests.deploy.stack import REPO_ROOT, application_services, load_compose

MONITORING_SERVICES = {"prometheus", "grafana"}


def test_monitoring_services_are_off_by_default_and_pinned() -> None:
    services = load_compose()["services"]
    profiled = {name for name, svc in services.items() if "profiles" in svc}
    assert profiled == MONITORING_SERVICES
    for name in MONITORING_SERVICES:
        service = services[name]
        assert service["profiles"] == ["monitoring"]
        # An exact version, never a moving tag.
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", service["image"]), service["image"]
        assert service["mem_limit"]
        # Reachable from the host's loopback only.
        assert all(str(port).startswith("127.0.0.1:") for port in service["ports"])
        # Hardened like the application services; logs rotated.
        assert service["cap_drop"] == ["ALL"]
        assert service["security_opt"] == ["no-new-privileges:true"]
        assert service["logging"]["options"]["max-size"]
    # The application does not wait for monitoring: it runs with or without the profile.
    for service in application_services(load_compose()).values():
        assert not set(service.get("depends_on", {})) & MONITORING_SERVICES


def test_every_file_the_profile_mounts_exists_in_deploy_monitoring() -> None:
    services = load_compose()["services"]
    for name in MONITORING_SERVICES:
        for volume in services[name]["volumes"]:
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert source.startswith("./deploy/monitoring/")
                assert (REPO_ROOT / source).exists(), source
                assert str(volume).endswith(":ro"), volume
    command = services["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    assert (MONITORING / "prometheus" / "prometheus.yml") == PROMETHEUS_CONFIG


def test_prometheus_discovers_every_replica_on_its_metrics_port() -> None:
    compose = load_compose()
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    port_setting = {"poller": "WIREWATCH_POLLER_WEB_PORT", "worker": "WIREWATCH_WEB_PORT"}
    for service, setting in port_setting.items():
        job = jobs[f"wirewatch-{service}"]
        (sd,) = job["dns_sd_configs"]
        port = compose["services"][service]["environment"][setting]
        # Docker's DNS answers one A record per replica of the service name: --scale is followed.
        assert sd == {"names": [service], "type": "A", "port": int(port), "refresh_interval": "30s"}
        assert port in compose["services"][service]["expose"]
    assert config["rule_files"] == ["rules/*.yml"]


def test_grafana_provisions_the_data_source_the_dashboard_uses() -> None:
    provisioning = MONITORING / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "wirewatch.yml").read_text())[
        "providers"
    ]
    grafana = load_compose()["services"]["grafana"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    dashboards_dir = REPO_ROOT / mounted[provider["options"]["path"]]
    assert DASHBOARD.parent == dashboards_dir.resolve()

    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["description"], panel["title"]
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses PromQL in rule files: check the panels' expressions as recording rules.
    expressions = dashboard_expressions()
    assert len(expressions) >= 15
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"panel:{i}", "expr": e} for i, e in enumerate(expressions)],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_sre_guide_has_a_runbook_for_every_alert_and_describes_every_panel() -> None:
    guide = (REPO_ROOT / "deploy" / "README.md").read_text()
    for rule in alert_rules():
        name = rule["alert"]
        # The rule's runbook annotation is this heading's anchor.
        assert f"\n#### {name}\n" in guide, f"no runbook heading for {name}"
        assert f"| [{name}](#{name.lower()}) | {rule['labels']['severity']} |" in guide, name
        runbook = guide.split(f"\n#### {name}\n", 1)[1].split("\n#", 1)[0]
        assert len(runbook.split()) >= 30, f"the runbook of {name} says too little"
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert f"| **{panel['title']}** |" in guide, panel["title"]
