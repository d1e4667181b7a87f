"""The README's first command: `make run` is `wirewatch run`, which shows the pipeline working.

`wirewatch run` here uses the test broker (``WIREWATCH_KAFKA_BOOTSTRAP``) instead of starting its
own, and this test's own topics; everything else is the embedded default: the bundled demo feed
on loopback, the example watchlist, and console alerts because no Slack credentials are set.
What a newcomer reads is checked as well as what happens: ready lines, the alerts, the next
steps and the status line, and nothing that looks like a failure.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.streams.harness import REPO_ROOT, PipelineEnv, wait_until
from wirewatch.localkafka import free_port
from wirewatch.run_status import scrape

pytestmark = pytest.mark.kafka

DEMO_FEED = REPO_ROOT / "deploy" / "feeds" / "demo" / "wirewatch-demo.xml"
STATUS_LINE = re.compile(
    r"^\d\d:\d\d status: (\d+) articles polled, (\d+) matched, (\d+) alerted, (\d+) dead letters$",
    re.MULTILINE,
)


def test_make_run_runs_the_service() -> None:
    # As a newcomer types it: not inside the `make test` that may be running this suite.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert planned.stdout.strip().splitlines()[-1].endswith("wirewatch run")


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class RunningService:
    """``wirewatch run`` as a terminal's foreground job: a process group of its own."""

    def __init__(self, env: dict[str, str], console: Path) -> None:
        self.console = console
        with console.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wirewatch", "run"],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.processes: set[int] = set()

    def text(self) -> str:
        return self.console.read_text(errors="replace")

    def wait_for(self, needle: str, timeout_s: float) -> None:
        def seen() -> bool:
            return needle in self.text() or self.process.poll() is not None

        assert wait_until(seen, timeout_s) and needle in self.text(), self.text()[-4000:]

    def remember_processes(self) -> None:
        """Note every process below ``run`` now (to check later that none is left)."""
        self.processes = _descendants(self.process.pid)

    def stop(self, send: Callable[[], None]) -> int:
        """Send a signal with ``send``; the exit code, once no noted process is left."""
        try:
            send()
            code = self.process.wait(timeout=90)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        left = wait_until(lambda: not [pid for pid in self.processes if _alive(pid)], 30)
        assert left, [pid for pid in self.processes if _alive(pid)]
        return code


def _demo_env(pipeline: PipelineEnv) -> dict[str, str]:
    """The embedded defaults, on this test's broker, topics and ports."""
    for key in ("WIREWATCH_WATCHLIST", "WIREWATCH_SLACK_TOKEN", "WIREWATCH_SLACK_API_URL"):
        pipeline.extra.pop(key)
    pipeline.extra["WIREWATCH_POLLER_WEB_PORT"] = str(free_port())
    pipeline.extra["WIREWATCH_RUN_STATUS_SECONDS"] = "2"
    return pipeline.environ()


def test_wirewatch_run_shows_ready_lines_alerts_and_status_and_stops_cleanly_on_ctrl_c(
    pipeline: PipelineEnv,
) -> None:
    env = _demo_env(pipeline)
    worker_metrics = f"http://127.0.0.1:{env['WIREWATCH_WEB_PORT']}/metrics"
    demo_articles = DEMO_FEED.read_text().count("<item>")
    service = RunningService(env, pipeline.home / "console.txt")
    text = service.text

    def every_demo_article_decided() -> bool:
        samples = scrape(worker_metrics) or []

        def total(name: str) -> float:
            return sum(value for sample, _, value in samples if sample == name)

        detected = total("wirewatch_articles_detected_total")
        matched = total("wirewatch_matches_total")
        return detected >= demo_articles and total("wirewatch_alerts_total") >= matched > 0

    # Every demo article has been through detection and every match has had its alert
    # decision (posted, or a duplicate of the same story told by another outlet) ...
    assert wait_until(every_demo_article_decided, 180), text()[-4000:]
    # ... and a status line printed since then counts them.
    assert wait_until(
        lambda: any(int(found[2]) >= 2 for found in STATUS_LINE.findall(text())), 60
    ), text()[-4000:]
    service.wait_for("next: docs", 30)
    service.remember_processes()
    # worker, poller and the worker's detection pool process(es) at least.
    assert len(service.processes) >= 3, service.processes
    # Ctrl-C: the terminal signals its foreground process group.
    assert service.stop(lambda: os.killpg(service.process.pid, signal.SIGINT)) == 0, text()

    shown = text()
    lines = shown.splitlines()
    assert not re.search(r"\b(ERROR|CRITICAL|Traceback)\b", shown), shown
    log_path = pipeline.home / "run" / "wirewatch.log"
    assert f"logs in {log_path}" in lines[0]
    logged = log_path.read_text(errors="replace")
    # A problem would be in the log even when the console hides it: there is none.
    assert not re.search(r" (ERROR|CRITICAL) |Traceback", logged), logged[-4000:]
    assert "faust.worker: [^Worker]: Ready" in logged  # the components' records are kept
    # One line per component as it becomes ready, the broker first.
    ready = [line.split()[0] for line in lines if re.match(r"^  \w+ +ready ", line)]
    assert ready[0] == "broker" and sorted(ready) == ["broker", "poller", "worker"], lines
    assert any(re.match(r"^  poller +ready +1 feed \(the bundled demo feed", x) for x in lines)
    assert any("watchlist deploy/watchlists/example.yaml" in line for line in lines)
    assert [line.split()[1] for line in lines if line.startswith("next: ")] == [
        "real",
        "Slack",
        "docs",
    ]
    # The two demo stories, each alerted once; the duplicate outlet and the unrelated story not.
    assert len(re.findall(r"\(alerts: (\w+)\)", shown)) == 2, shown
    assert "topic `ai-moratorium`" in shown and "topic `twitter-ai`" in shown
    polled, matched, alerted, dead = (int(n) for n in STATUS_LINE.findall(shown)[-1])
    assert polled == demo_articles and alerted == 2 and dead == 0 and matched >= 2, shown
    assert lines[-2] == "wirewatch run: stopping (SIGINT)"
    assert lines[-1] == "wirewatch run: stopped worker, poller, demo feed server"


def test_sigterm_stops_run_and_every_process_below_it(pipeline: PipelineEnv) -> None:
    service = RunningService(_demo_env(pipeline), pipeline.home / "console.txt")
    service.wait_for("next: docs", 180)
    service.remember_processes()
    # As a service manager stops it: SIGTERM to `run` alone.
    assert service.stop(lambda: service.process.send_signal(signal.SIGTERM)) == 0
    shown = service.text()
    assert not re.search(r"\b(ERROR|CRITICAL|Traceback)\b", shown), shown
    assert shown.splitlines()[-2:] == [
        "wirewatch run: stopping (SIGTERM)",
        "wirewatch run: stopped worker, poller, demo feed server",
    ]


def test_a_component_that_cannot_start_is_reported_with_its_reason(
    pipeline: PipelineEnv,
) -> None:
    env = _demo_env(pipeline)
    env["WIREWATCH_WATCHLIST"] = str(pipeline.home / "missing-watchlist.yaml")
    service = RunningService(env, pipeline.home / "console.txt")
    assert service.process.wait(timeout=180) == 1
    shown = service.text()
    assert "wirewatch run: the worker exited (code " in shown, shown
    # The worker's own one-line reason, not a traceback.
    assert "missing-watchlist.yaml: cannot read: No such file or directory" in shown, shown
    assert "Traceback" not in shown, shown
    assert shown.splitlines()[-1].startswith("wirewatch run: stopped worker, poller"), shown
