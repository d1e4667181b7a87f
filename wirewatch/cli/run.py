"""``wirewatch run``: the whole service on one machine, on its embedded defaults.

Starts the local broker when no Kafka is configured, serves the bundled demo feed on loopback
(so the pipeline works without internet), then runs the poller and the worker as child processes,
exactly as Docker Compose runs them, until Ctrl-C or SIGTERM; then stops them and the broker it
started.

It is a console, not a log: one line per component as it becomes ready, the next steps, the
alerts, and a status line every ``WIREWATCH_RUN_STATUS_SECONDS``. The components' log records
go to ``<home>/run/wirewatch.log``, and to the console only at ERROR (a real problem), or at
every level with ``--verbose`` or ``WIREWATCH_LOG_LEVEL``. The children run in a process group
of their own, so Ctrl-C reaches only ``run``, which stops them in order.
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from wirewatch.localkafka import DEPLOY_KAFKA_DIR
from wirewatch.run_console import Record, RunLog

DEMO_FEED_DIR = DEPLOY_KAFKA_DIR.parent / "feeds" / "demo"
# Each run appends to the log file; past this size a run starts a new one.
_LOG_ROTATE_BYTES = 20 * 1024 * 1024


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_demo_feed(port: int) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``deploy/feeds/demo`` on 127.0.0.1; return the server and the feed URL."""
    handler = functools.partial(_QuietHandler, directory=str(DEMO_FEED_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="demo-feed", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/wirewatch-demo.xml"


def _demo_feeds_file(home: Path, url: str) -> Path:
    path = home / "run" / "demo-feeds.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `wirewatch run`: the bundled demo feed served on loopback.\n"
        f"feeds:\n  - url: {url}\n    name: Wirewatch demo wire\n    tags: [demo]\n"
    )
    return path


def _shown(path: Path) -> str:
    """``path`` relative to the current directory, or with ``~`` for the home folder: shorter."""
    resolved = path.resolve()
    if resolved.is_relative_to(Path.cwd()):
        return str(resolved.relative_to(Path.cwd()))
    if resolved.is_relative_to(Path.home()):
        return str(Path("~") / resolved.relative_to(Path.home()))
    return str(path)


def _console_level(verbose: bool) -> int:
    """``WIREWATCH_LOG_LEVEL`` if set, else INFO with ``--verbose``, else only ERROR records."""
    configured = os.environ.get("WIREWATCH_LOG_LEVEL", "").strip()
    if not configured:
        return logging.INFO if verbose else logging.ERROR
    level = logging.getLevelName(configured.upper())
    if not isinstance(level, int):
        msg = f"WIREWATCH_LOG_LEVEL: unknown level {configured!r} (debug, info, warning, error)"
        raise click.BadParameter(msg)
    return level


@dataclass
class StartUp:
    """What ``run`` waits for before it prints the next steps; set by the relay threads."""

    poller: threading.Event = field(default_factory=threading.Event)
    worker: threading.Event = field(default_factory=threading.Event)

    def done(self) -> bool:
        """Both components have said they are ready."""
        return self.poller.is_set() and self.worker.is_set()


def _watch_for_events(
    say: Callable[[str], None], startup: StartUp, feeds_from: str, worker_line: str
) -> Callable[[Record], None]:
    """The records that mean something on the console: readiness, a watchlist switch."""

    def on_record(record: Record) -> None:
        if record.logger == "streams.poller.poller" and record.message.startswith(
            "poller started:"
        ):
            found = re.search(r"(\d+) feeds.* (\d+) remembered", record.message)
            count, seen = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
            line = f"  poller  ready   {count} feed{'' if count == 1 else 's'} ({feeds_from})"
            if seen:
                # Why a second run shows no alerts: an article is published once, ever.
                line += f"; {seen} articles seen before are not published again"
            if not startup.poller.is_set():
                startup.poller.set()
                say(line)
        elif record.logger == "faust.worker" and record.message.endswith("]: Ready"):
            if not startup.worker.is_set():
                startup.worker.set()
                say(worker_line)
        elif record.logger == "streams.watchlists" and record.message.startswith(
            "watchlist switched"
        ):
            say(f"  worker  {record.message}")

    return on_record


def _worker_line(settings: Any) -> str:
    """``worker ready`` with the watchlist it starts with, what it reads, where alerts go."""
    watching = f"watching {settings.articles_topic}"
    try:
        from streams.watchlists import load_version

        loaded = load_version(settings.watchlist)
        version = f" ({loaded.version[:19]})"
        topics = ", ".join(topic.id for topic in loaded.watchlist.topics)
        watching = f"watching {settings.articles_topic} for {topics}"
    except Exception:  # the worker reports the watchlist's errors itself
        version = ""
    if settings.slack_token is not None:
        sink = "alerts go to Slack (bot token)"
    elif settings.slack_webhook_url is not None:
        sink = "alerts go to Slack (webhook)"
    else:
        sink = "no Slack credentials: alerts print below"
    indent = " " * 18
    return (
        f"  worker  ready   watchlist {_shown(settings.watchlist)}{version}\n"
        f"{indent}{watching}\n{indent}{sink}"
    )


def _next_steps(feeds_given: bool) -> str:
    exe = Path(sys.executable).parent / "wirewatch"
    command = _shown(exe) if exe.exists() else "wirewatch"
    if feeds_given:
        feeds = "your feed list: edit it, check it with `wirewatch feeds check` (docs/poller.md)"
    else:
        feeds = f"{command} run --feeds deploy/feeds/example.yaml, or a list of your own"
    return (
        f"next: real feeds  {feeds}\n"
        "next: Slack       set WIREWATCH_SLACK_TOKEN=xoxb-... (or a webhook): docs/alerts.md\n"
        "next: docs        README.md, docs/watchlists.md (what to watch), deploy/README.md (ops)"
    )


@click.command()
@click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="WIREWATCH_FEEDS_FILE",
    show_envvar=True,
    help="Feed list to poll. Default: the bundled demo feed, served on loopback.",
)
@click.option(
    "--demo-port",
    type=int,
    default=0,
    show_default="any free port",
    help="Port of the bundled demo feed server.",
)
@click.option(
    "--verbose", is_flag=True, help="Show the components' log records on the console too."
)
@click.option("--payloads", is_flag=True, help="Console alerts also show the exact Slack payload.")
def run(feeds_file: Path | None, demo_port: int, verbose: bool, payloads: bool) -> None:
    """Run poller and worker (and local Kafka when none is configured) until Ctrl-C.

    Prints a line per component as it becomes ready, the alerts (without Slack credentials) and a
    status line every WIREWATCH_RUN_STATUS_SECONDS; logs go to <home>/run/wirewatch.log.
    """
    from wirewatch.localkafka import LocalKafka
    from wirewatch.logs import configure_logging
    from wirewatch.run_console import Console
    from wirewatch.settings import load_settings

    settings = load_settings()
    feeds_from = (
        "the bundled demo feed, served on loopback" if feeds_file is None else _shown(feeds_file)
    )
    console_level = _console_level(verbose)
    child_level = min(console_level, logging.INFO)  # readiness is told at INFO

    log_path = settings.home / "run" / "wirewatch.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.exists() and log_path.stat().st_size > _LOG_ROTATE_BYTES:
        log_path.replace(log_path.with_name(log_path.name + ".1"))  # one older file is kept
    log_file = log_path.open("a", encoding="utf-8", buffering=1)
    configure_logging(child_level, "text", stream=log_file)
    console = Console(sys.stdout)
    startup = StartUp()
    run_log = RunLog(
        console,
        log_file,
        console_level,
        _watch_for_events(console.say, startup, feeds_from, _worker_line(settings)),
    )

    def say(text: str) -> None:
        console.say(text)
        for line in text.splitlines():
            run_log.note(line)

    say(f"wirewatch run: starting; logs in {_shown(log_path)}")
    broker = LocalKafka(home=settings.home, data_dir=settings.home / "broker")
    started_broker = not settings.kafka_bootstrap and broker.pid() is None
    bootstrap = _start_broker(settings, say)
    if bootstrap is None:
        raise SystemExit(130)
    where = (
        "configured"
        if settings.kafka_bootstrap
        else "local, " + ("started" if started_broker else "already running")
    )
    say(f"  broker  ready   {bootstrap} ({where})")

    env = {
        **os.environ,
        "WIREWATCH_KAFKA_BOOTSTRAP": bootstrap,
        "WIREWATCH_LOG_FORMAT": "json",
        "WIREWATCH_LOG_LEVEL": logging.getLevelName(child_level),
    }
    if payloads:
        env["WIREWATCH_CONSOLE_VERBOSE"] = "true"
    demo_server = None
    feeds_given = feeds_file is not None
    if feeds_file is None:
        demo_server, url = serve_demo_feed(demo_port)
        feeds_file = _demo_feeds_file(settings.home, url)
        env["WIREWATCH_ALLOW_LOOPBACK"] = "true"
        run_log.note(f"serving the bundled demo feed at {url}")

    stopping = threading.Event()
    signal_name: list[str] = []

    def request_stop(signum: int, _frame: object) -> None:
        signal_name.append(signal.Signals(signum).name)
        stopping.set()  # a second signal while stopping: _stop kills what is left

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    components: dict[str, subprocess.Popen[bytes]] = {}
    failed = True
    try:
        components = _start_components(env, feeds_file, run_log)
        failed = _supervise(settings, components, startup, stopping, say, run_log, feeds_given)
    finally:
        reason = signal_name[0] if signal_name else "a component failed"
        say(f"wirewatch run: stopping ({reason})")
        stopped = _stop(components, hurry=lambda: len(signal_name) > 1)
        run_log.drain()  # their last records and alerts, before the final line
        if demo_server is not None:
            demo_server.shutdown()
            demo_server.server_close()
            stopped.append("demo feed server")
        if started_broker:
            broker.stop()
            stopped.append(f"local broker ({bootstrap})")
        say("wirewatch run: stopped " + ", ".join(stopped))
        if not started_broker and not settings.kafka_bootstrap:
            say(f"wirewatch run: the local broker at {bootstrap} was running before; left running")
        log_file.close()
    if failed:
        raise SystemExit(1)


def _start_components(
    env: dict[str, str], feeds_file: Path, run_log: RunLog
) -> dict[str, subprocess.Popen[bytes]]:
    """Start the worker and the poller with their output relayed."""
    exe = [sys.executable, "-m", "wirewatch"]
    components: dict[str, subprocess.Popen[bytes]] = {}
    for name, args in (("worker", ["worker"]), ("poller", ["poll", "--feeds", str(feeds_file)])):
        # A process group of its own: Ctrl-C in the terminal reaches only `run`, which stops the
        # components in order instead of each dying of the signal at once.
        components[name] = subprocess.Popen(
            [*exe, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
        )
        run_log.follow(name, components[name])
        run_log.note(f"started {name} (pid {components[name].pid})")
    return components


def _start_broker(settings: Any, say: Callable[[str], None]) -> str | None:
    """The bootstrap address, starting the local broker if needed; None if interrupted."""
    from wirewatch.bootstrap import resolve_bootstrap

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM while the broker starts ends `run` the way Ctrl-C does: no traceback.
    previous = signal.signal(signal.SIGTERM, interrupt)
    # kafka-python logs each refused connection of the readiness probe at ERROR; a broker that
    # never answers is reported by resolve_bootstrap itself, with its log file.
    kafka_logger = logging.getLogger("kafka")
    kafka_level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        return resolve_bootstrap(settings)
    except KeyboardInterrupt:
        # resolve_bootstrap leaves a broker it started running only once it answers; stop it.
        from wirewatch.localkafka import LocalKafka

        if not settings.kafka_bootstrap:
            LocalKafka(home=settings.home, data_dir=settings.home / "broker").stop()
        say("wirewatch run: interrupted while Kafka was starting; stopped")
        return None
    finally:
        signal.signal(signal.SIGTERM, previous)
        kafka_logger.setLevel(kafka_level)


def _supervise(
    settings: Any,
    components: dict[str, subprocess.Popen[bytes]],
    startup: StartUp,
    stopping: threading.Event,
    say: Callable[[str], None],
    run_log: RunLog,
    feeds_given: bool,
) -> bool:
    """Wait for start-up, print the next steps, then a status line now and then; True on failure."""
    from wirewatch.run_status import metrics_url, read_counts

    poller_url = metrics_url(settings.web_bind, settings.poller_web_port)
    worker_url = metrics_url(settings.web_bind, settings.web_port)
    next_status: float | None = None
    while not stopping.wait(0.2):
        exited = {name: p.returncode for name, p in components.items() if p.poll() is not None}
        if exited:
            for name, code in exited.items():
                say(f"wirewatch run: the {name} exited (code {code}); its last lines:")
                for line in run_log.last_lines(name)[-8:]:
                    say(f"    {line}")
            return True
        if next_status is None and startup.done():
            say(_next_steps(feeds_given))
            next_status = time.monotonic() + settings.run_status_seconds
        elif next_status is not None and time.monotonic() >= next_status:
            counts = read_counts(poller_url, worker_url)
            say(f"{datetime.now().astimezone():%H:%M} {counts.line()}")
            next_status = time.monotonic() + settings.run_status_seconds
    return False


def _stop(
    components: dict[str, subprocess.Popen[bytes]], hurry: Callable[[], bool], grace_s: float = 60
) -> list[str]:
    """SIGTERM every component and wait; SIGKILL what is left after ``grace_s`` or when ``hurry``
    turns true (Ctrl-C pressed again). What was stopped, in words."""
    for process in components.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    stopped = []
    for name, process in components.items():
        while process.poll() is None and time.monotonic() < deadline and not hurry():
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait()
            stopped.append(f"{name} (killed)")
        else:
            stopped.append(name)
    return stopped
