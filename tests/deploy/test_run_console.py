"""The pieces of `wirewatch run`'s console: records from the components, the status line."""

from __future__ import annotations

import http.server
import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from streams.metrics import WorkerMetrics
from wirewatch.run_console import Console, RunLog, parse_record
from wirewatch.run_status import metrics_url, read_counts


def test_a_json_record_becomes_a_text_line_with_its_component() -> None:
    line = json.dumps(
        {
            "ts": "2026-12-02T15:00:00.000+00:00",
            "level": "error",
            "logger": "streams.poller.poller",
            "msg": "feed x needs attention",
            "exc": "ValueError: bad",
        }
    )
    record = parse_record("poller", line)
    assert record.level == logging.ERROR and record.logger == "streams.poller.poller"
    assert record.message == "feed x needs attention | ValueError: bad"
    assert record.text == (
        "2026-12-02T15:00:00.000+00:00 ERROR [poller] streams.poller.poller: "
        "feed x needs attention | ValueError: bad"
    )


def test_a_raw_line_is_kept_cleaned_and_unlevelled() -> None:
    record = parse_record("worker", "wirewatch: invalid watchlist\x1b[2J (1 error):\n")
    assert record.level == logging.NOTSET and record.logger == ""
    assert record.text == "[worker] wirewatch: invalid watchlist (1 error):"


def test_a_component_s_alerts_reach_the_console_and_its_records_the_log_file() -> None:
    out, log = io.StringIO(), io.StringIO()
    seen: list[str] = []
    run_log = RunLog(Console(out), log, logging.ERROR, lambda r: seen.append(r.message))
    records = [
        {"level": "info", "logger": "faust.worker", "msg": "[^Worker]: Ready"},
        {"level": "error", "logger": "x", "msg": "real problem"},
    ]
    script = (
        "import json, sys\n"
        f"for r in {records!r}: print(json.dumps(r), file=sys.stderr, flush=True)\n"
        "print('raw text', file=sys.stderr)\n"
        "sys.stdout.write('-- #news --\\n  HEADLINE\\n')\n"
    )
    component = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    run_log.follow("worker", component)
    assert component.wait(timeout=30) == 0
    run_log.drain()
    shown = out.getvalue().splitlines()
    # The alert as written, and of the records only the ERROR one (the console level).
    assert sorted(shown) == sorted(["-- #news --", "  HEADLINE", "worker: ERROR real problem"])
    assert shown.index("-- #news --") + 1 == shown.index("  HEADLINE")
    assert len(log.getvalue().splitlines()) == 3  # every record is in the log file
    assert seen == ["[^Worker]: Ready", "real problem", "raw text"]
    assert run_log.last_lines("worker")[-1] == "[worker] raw text"


@pytest.fixture
def metrics_server() -> Iterator[tuple[str, WorkerMetrics, Counter]]:
    worker = WorkerMetrics()
    poller_registry = CollectorRegistry()
    published = Counter("wirewatch_articles_published_total", "x", registry=poller_registry)
    registries = {"/worker": worker.registry, "/poller": poller_registry}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registries[self.path])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", worker, published
    server.shutdown()
    server.server_close()


def test_status_line_adds_up_the_components_series(
    metrics_server: tuple[str, WorkerMetrics, Counter],
) -> None:
    base, worker, published = metrics_server
    published.inc(4)
    worker.matched("ai-moratorium")
    worker.matched("ai-moratorium")
    worker.matched("twitter-ai")
    worker.alert("posted")
    worker.alert("digested")
    worker.alert("duplicate")  # decided, but nothing reached a channel
    worker.dead_lettered("detect", "timeout")
    counts = read_counts(f"{base}/poller", f"{base}/worker")
    assert counts.line() == "status: 4 articles polled, 3 matched, 2 alerted, 1 dead letters"


def test_a_component_without_an_endpoint_shows_a_question_mark(
    metrics_server: tuple[str, WorkerMetrics, Counter],
) -> None:
    base, _, _ = metrics_server
    assert metrics_url("127.0.0.1", 0) is None
    counts = read_counts(None, f"{base}/worker")
    assert counts.line() == "status: ? articles polled, 0 matched, 0 alerted, 0 dead letters"


@pytest.mark.parametrize(
    ("verbose", "env_level", "expected"),
    [
        (False, None, logging.ERROR),
        (True, None, logging.INFO),
        (False, "warning", logging.WARNING),
        (True, "debug", logging.DEBUG),
    ],
)
def test_console_level_is_error_unless_asked(
    monkeypatch: pytest.MonkeyPatch, verbose: bool, env_level: str | None, expected: int
) -> None:
    from wirewatch.cli.run import _console_level

    if env_level is None:
        monkeypatch.delenv("WIREWATCH_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("WIREWATCH_LOG_LEVEL", env_level)
    assert _console_level(verbose) == expected


def test_a_second_signal_kills_what_has_not_stopped() -> None:
    from wirewatch.cli.run import _stop

    # A component that ignores SIGTERM, as a stuck one would.
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    pressed = iter([False, False, True])
    assert _stop({"worker": stubborn}, hurry=lambda: next(pressed, True)) == ["worker (killed)"]
    assert stubborn.returncode == -9
