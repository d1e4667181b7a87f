"""Run ``docker-compose.yml``'s application services as local processes (no Docker engine here).

Each service's ``command`` runs as ``python -m wirewatch <command>`` with the service's
``environment``, translated to this machine the way Compose would wire it inside containers:

- the broker's in-network address (``kafka:9092``) becomes the local test broker's bootstrap;
- container paths of bind mounts (``./deploy/feeds:/etc/wirewatch/feeds:ro``) become the host
  paths, tmpfs paths become fresh temporary folders, named volumes folders that outlive the process;
- ``/run/secrets/<name>`` becomes a temporary file holding the secret the test chose.

What a container gives for free and one host cannot is overridden explicitly and listed by the
caller (``overrides``): its own ports, and, on a broker shared with other tests, unique topic
names and app id. Health checks run the service's own ``healthcheck.test`` the same way.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
KAFKA_SERVICE_ADDRESS = "kafka:9092"
DEMO_FEED_DIR = REPO_ROOT / "deploy" / "feeds" / "demo"


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The Compose file as data (YAML merge keys ``<<`` resolved, as Compose resolves them)."""
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def application_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services built from this repository (the ones that run ``wirewatch``)."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    mounts = {}
    for volume in service.get("volumes") or []:
        source, target, *_ = str(volume).split(":")
        if source.startswith("."):
            mounts[target] = (REPO_ROOT / source).resolve()
    return mounts


def _named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Container path to volume name, for the service's named volumes."""
    volumes = {}
    for volume in service.get("volumes") or []:
        source, target, *_ = str(volume).split(":")
        if not source.startswith((".", "/")):
            volumes[target] = source
    return volumes


@dataclass
class ServiceProcess:
    """One Compose service translated to a local process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    healthcheck: list[str] | None
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    peak_rss_kb: dict[int, int] = field(default_factory=dict)

    def start(self) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def run_to_completion(self, timeout_s: float) -> int:
        """Run a one-shot service (``restart: "no"``) and return its exit code."""
        self.start()
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            self.sample_rss()
            if time.monotonic() > deadline:
                self.process.kill()
                raise subprocess.TimeoutExpired(self.argv, timeout_s)
            time.sleep(0.1)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_health(self, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
        """Run the service's own health check command once."""
        assert self.healthcheck is not None, f"{self.name} has no health check"
        return subprocess.run(
            self.healthcheck,
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def sample_rss(self) -> None:
        """Remember the peak resident memory of the process and its children (Linux /proc)."""
        if self.process is None:
            return
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1])
                    self.peak_rss_kb[pid] = max(self.peak_rss_kb.get(pid, 0), kb)

    def stop(self, timeout_s: float = 60) -> int | None:
        """SIGTERM (what ``docker compose stop`` sends), then SIGKILL after ``timeout_s``."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in map(int, text):
                found += [child, *_children(child)]
    except OSError:
        pass
    return found


def translate_service(
    compose: dict[str, Any],
    name: str,
    *,
    bootstrap: str,
    work_dir: Path,
    secrets: dict[str, str],
    overrides: dict[str, str],
) -> ServiceProcess:
    """``name``'s command, environment and health check as a local process (see module doc)."""
    service = compose["services"][name]
    mounts = _bind_mounts(service)
    tmpfs = {str(t).split(":")[0] for t in service.get("tmpfs") or []}
    volumes = _named_volumes(service)
    secret_files = {}
    for secret in service.get("secrets") or []:
        secret_name = secret if isinstance(secret, str) else secret["source"]
        path = work_dir / "secrets" / secret_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets[secret_name])
        path.chmod(0o600)
        secret_files[f"/run/secrets/{secret_name}"] = path

    def translate(value: str) -> str:
        value = value.replace(KAFKA_SERVICE_ADDRESS, bootstrap)
        if value in secret_files:
            return str(secret_files[value])
        for target, source in mounts.items():
            if value == target or value.startswith(target + "/"):
                return str(source) + value[len(target) :]
        for target in tmpfs:
            if value == target or value.startswith(target + "/"):
                local = work_dir / name / target.strip("/").replace("/", "_")
                local.mkdir(parents=True, exist_ok=True)
                return str(local) + value[len(target) :]
        for target, volume in volumes.items():
            if value == target or value.startswith(target + "/"):
                local = work_dir / "volumes" / volume  # outlives the process, as a volume does
                local.mkdir(parents=True, exist_ok=True)
                return str(local) + value[len(target) :]
        return value

    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update({k: translate(v) for k, v in _environment(service).items()})
    env.update(overrides)
    wirewatch = [sys.executable, "-m", "wirewatch"]
    command = [translate(str(part)) for part in service["command"]]
    healthcheck = None
    test = (service.get("healthcheck") or {}).get("test")
    if test:
        assert test[0] == "CMD" and test[1] == "wirewatch", test
        healthcheck = [*wirewatch, *(translate(str(p)) for p in test[2:])]
    return ServiceProcess(
        name=name,
        argv=[*wirewatch, *command],
        env=env,
        healthcheck=healthcheck,
        log_path=work_dir / f"{name}.log",
    )


@dataclass
class DemoStack:
    """The application services as local processes, fed by the demo feed, posting to loopback."""

    processes: dict[str, ServiceProcess]
    overrides: dict[str, str]
    slack: Any  # tests.slackserver.SlackServer
    feed_server: Any  # tests.feedserver.FeedServer
    channels: tuple[str, ...]
    worker_port: int
    poller_port: int


@contextlib.contextmanager
def demo_stack(
    compose: dict[str, Any],
    *,
    bootstrap: str,
    unique_name: str,
    work_dir: Path,
    extra_feed_paths: tuple[str, ...] = (),
) -> Iterator[DemoStack]:
    """Compose's services wired to this host; ``topics`` has run, poller and worker not started.

    The feed list is the bundled demo feed (plus ``extra_feed_paths`` on the same loopback feed
    server), Slack is a loopback server knowing every channel of the example watchlist, and the
    processes get the overrides one host needs in place of containers.
    """
    from tests.feedserver import FeedServer
    from tests.slackserver import VALID_TOKEN, SlackServer
    from wirewatch.localkafka import free_port

    watchlist = REPO_ROOT / "deploy" / "watchlists" / "example.yaml"
    channels = ("wirewatch", *watchlist_channels(watchlist))
    with FeedServer(root=DEMO_FEED_DIR) as feed_server, SlackServer(channels=channels) as slack:
        feeds_file = work_dir / "feeds.yaml"
        feeds_file.write_text(
            "feeds:\n"
            f"  - url: {feed_server.file_url('wirewatch-demo.xml')}\n"
            "    name: Wirewatch demo wire\n"
            + "".join(f"  - url: {feed_server.url(path)}\n" for path in extra_feed_paths)
        )
        worker_port, poller_port = free_port(), free_port()
        overrides = {
            # A container has its own ports and network; here every process shares one host.
            "WIREWATCH_WEB_PORT": str(worker_port),
            "WIREWATCH_POLLER_WEB_PORT": str(poller_port),
            "WIREWATCH_WEB_BIND": "127.0.0.1",
            # The test broker is shared with other tests: names of our own.
            "WIREWATCH_APP_ID": unique_name,
            "WIREWATCH_TOPIC_PREFIX": unique_name,
            "WIREWATCH_ARTICLES_TOPIC": f"{unique_name}.articles.v1",
            "WIREWATCH_POLLER_STATE_TOPIC": f"{unique_name}.poller-state.v1",
            # Loopback feed and Slack servers instead of the internet.
            "WIREWATCH_FEEDS_FILE": str(feeds_file),
            "WIREWATCH_ALLOW_LOOPBACK": "true",
            "WIREWATCH_SLACK_API_URL": slack.api_url,
            "WIREWATCH_SLACK_DEFAULT_CHANNEL": "#wirewatch",
            # Poll again within seconds so the second poll is a conditional GET (304).
            "WIREWATCH_POLL_INTERVAL_SECONDS": "2",
            "WIREWATCH_POLL_MIN_INTERVAL_SECONDS": "1",
            "WIREWATCH_POLL_MAX_INTERVAL_SECONDS": "2",
            "WIREWATCH_DETECT_BATCH_SECONDS": "0.2",
        }
        processes = {
            name: translate_service(
                compose,
                name,
                bootstrap=bootstrap,
                work_dir=work_dir,
                secrets={"slack_token": VALID_TOKEN},
                overrides=overrides,
            )
            for name in application_services(compose)
        }
        topics = processes["topics"]
        assert topics.run_to_completion(timeout_s=180) == 0, topics.log()[-3000:]
        yield DemoStack(
            processes, overrides, slack, feed_server, channels, worker_port, poller_port
        )


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 1.0, what: str = "") -> None:
    """Poll ``predicate`` until it is true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def watchlist_channels(path: Path) -> tuple[str, ...]:
    """Every Slack channel a watchlist routes to (the loopback Slack server must know them)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("channels", "channel"):
                    values = value if isinstance(value, list) else [value]
                    found.update(str(v).lstrip("#") for v in values if v)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(path.read_text()))
    return tuple(sorted(found))
