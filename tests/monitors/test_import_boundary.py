"""The pure cores stay pure: ``monitors/`` and ``alerts/`` never import Kafka or Faust, and
``monitors/`` and the formatting side of ``alerts/`` import no HTTP or Slack client either.

Checked on the source (every import statement, including the ones inside functions) and at run
time (importing the cores pulls in none of the streaming or Slack packages).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STREAMING = {"kafka", "aiokafka", "faust", "mode", "streams"}
NETWORK = {"slack_sdk", "aiohttp", "httpx", "requests", "urllib3", "http", "socket"}
RULES = {
    "monitors": STREAMING | NETWORK | {"alerts"},
    "alerts": STREAMING | {"monitors"},
}
# alerts/sinks (and dispatch) are the delivery adapters: they talk to Slack, never to Kafka.
ALERT_ADAPTERS = ("alerts/sinks/", "alerts/dispatch.py")


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def forbidden_for(relative: str) -> set[str]:
    package = relative.split("/")[0]
    forbidden = set(RULES[package])
    if package == "alerts" and not relative.startswith(ALERT_ADAPTERS):
        forbidden |= NETWORK
    return forbidden


SOURCES = sorted(
    str(path.relative_to(ROOT)) for package in RULES for path in (ROOT / package).rglob("*.py")
)


@pytest.mark.parametrize("relative", SOURCES)
def test_source_imports_stay_inside_the_boundary(relative: str) -> None:
    found = imported_roots(ROOT / relative) & forbidden_for(relative)
    assert not found, f"{relative} imports {sorted(found)}"


def test_importing_the_cores_loads_no_streaming_or_network_client() -> None:
    modules = [
        "monitors.watchlist",
        "monitors.detector",
        "monitors.nlp",
        "monitors.evaluation",
        "alerts.formatting",
        "alerts.routing",
        "alerts.model",
    ]
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # (spaCy itself imports httpx, so only the clients spaCy does not need are checked here.)
    loaded = set(out) & (STREAMING | {"slack_sdk", "aiohttp"})
    assert not loaded, sorted(loaded)
