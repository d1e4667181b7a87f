"""``wirewatch run``: the whole service on one machine, on its embedded defaults.

Starts the local broker when no Kafka is configured, serves the bundled demo feed on loopback
(so the pipeline works without internet), then runs the poller and the worker as child processes,
exactly as Docker Compose runs them, until Ctrl-C or SIGTERM; then stops them and the broker it
started.
"""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

from wirewatch.localkafka import DEPLOY_KAFKA_DIR

DEMO_FEED_DIR = DEPLOY_KAFKA_DIR.parent / "feeds" / "demo"


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
@click.option("--verbose", is_flag=True, help="Console alerts show the exact Slack payload.")
def run(feeds_file: Path | None, demo_port: int, verbose: bool) -> None:
    """Run poller and worker (and local Kafka when none is configured) until Ctrl-C."""
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.localkafka import LocalKafka
    from wirewatch.settings import load_settings

    settings = load_settings()
    started_broker = (
        not settings.kafka_bootstrap
        and LocalKafka(home=settings.home, data_dir=settings.home / "broker").pid() is None
    )
    bootstrap = resolve_bootstrap(settings)
    click.echo(f"wirewatch: Kafka ready at {bootstrap}")
    env = {**os.environ, "WIREWATCH_KAFKA_BOOTSTRAP": bootstrap}
    if verbose:
        env["WIREWATCH_CONSOLE_VERBOSE"] = "true"
    demo_server = None
    if feeds_file is None:
        demo_server, url = serve_demo_feed(demo_port)
        feeds_file = _demo_feeds_file(settings.home, url)
        env["WIREWATCH_ALLOW_LOOPBACK"] = "true"
        click.echo(f"wirewatch: serving the bundled demo feed at {url}")
    exe = [sys.executable, "-m", "wirewatch"]
    children = [
        subprocess.Popen([*exe, "worker"], env=env),
        subprocess.Popen([*exe, "poll", "--feeds", str(feeds_file)], env=env),
    ]
    click.echo("wirewatch: poller and worker started; alerts appear below. Ctrl-C stops.")

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stopping.wait(1.0):
            if any(child.poll() is not None for child in children):
                click.echo("wirewatch: a component exited; stopping the others", err=True)
                break
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
        if demo_server is not None:
            demo_server.shutdown()
        if started_broker:
            LocalKafka(home=settings.home, data_dir=settings.home / "broker").stop()
        click.echo("wirewatch: stopped")
    codes = [child.returncode for child in children]
    if not stopping.is_set() and any(codes):
        raise SystemExit(1)
