"""``wirewatch poll`` (the feed poller) and ``wirewatch feeds status|check|import-opml``."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import click

_feeds_option = click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="WIREWATCH_FEEDS_FILE",
    show_envvar=True,
    default=None,
    help="Feed list (YAML). Default: the feeds_file setting (deploy/feeds/example.yaml).",
)


def _configure_logging() -> None:
    from wirewatch.logs import configure_logging, settings_log_format

    # One record per event (text or JSON: WIREWATCH_LOG_FORMAT), before the settings are read so
    # that their errors are logged the same way; kafka-python's reconnect chatter is silenced.
    configure_logging(os.environ.get("WIREWATCH_LOG_LEVEL", "INFO"), settings_log_format())


@click.command()
@_feeds_option
@click.option("--once", is_flag=True, help="Poll every feed once, publish, and exit.")
def poll(feeds_file: Path | None, once: bool) -> None:
    """Poll RSS/Atom feeds and publish new articles to Kafka (until SIGTERM/Ctrl-C)."""
    from streams.poller.config import load_feed_list
    from streams.poller.factory import create_poller
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.settings import load_settings

    _configure_logging()
    settings = load_settings()
    feeds = load_feed_list(feeds_file or settings.feeds_file)
    bootstrap = resolve_bootstrap(settings)
    from streams.poller_metrics import serve_poller_telemetry
    from wirewatch.kafka_config import kafka_python_kwargs

    poller = create_poller(
        settings,
        feeds,
        bootstrap=bootstrap,
        client_options=kafka_python_kwargs(settings),
    )
    # /metrics and /health on WIREWATCH_POLLER_WEB_PORT (what `wirewatch healthcheck` asks).
    telemetry = None if once else serve_poller_telemetry(poller, settings)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            if once:
                if not await poller.start(stop):
                    return 1
                report = await poller.poll_once(ignore_schedule=True)
                counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items()))
                click.echo(
                    f"polled {report.polled} feeds ({counts or 'none due'}); "
                    f"published {report.published} articles"
                )
                return 0
            await poller.run_forever(stop)
            return 0
        finally:
            # SIGTERM path: state written, producer flushed, connections closed.
            await poller.close()
            if telemetry is not None:
                telemetry.close()

    raise SystemExit(asyncio.run(main()))


@click.group()
def feeds() -> None:
    """Inspect the feed list and the poller's per-feed health."""


@feeds.command()
@click.option("--problems", is_flag=True, help="Only feeds that are failing or need attention.")
def status(problems: bool) -> None:
    """Per-feed health from the poller's state topic; exit 1 if any feed needs attention."""
    from streams.poller.health import format_status, status_word
    from streams.poller.state import MemoryStateBackend, StateStore, read_state_topic
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.settings import load_settings

    settings = load_settings()
    bootstrap = resolve_bootstrap(settings, start_local=False)
    backend = MemoryStateBackend()
    from wirewatch.kafka_config import kafka_python_kwargs

    backend.records = read_state_topic(
        bootstrap, settings.poller_state_topic, client_options=kafka_python_kwargs(settings)
    )
    store = StateStore(backend)
    asyncio.run(store.load())
    states = list(store.feeds.values())
    if problems:
        states = [s for s in states if status_word(s) in ("failing", "attention")]
    if not states and not problems:
        click.echo("no feed state yet (has the poller run?)")
        return
    click.echo(format_status(states, datetime.now(UTC)))
    click.echo(f"{store.seen_count} article ids remembered")
    if any(s.needs_attention for s in store.feeds.values()):
        raise SystemExit(1)


@feeds.command()
@_feeds_option
def check(feeds_file: Path | None) -> None:
    """Validate a feed list (exit 2 with file:line:col errors)."""
    from streams.poller.config import load_feed_list
    from wirewatch.settings import load_settings

    path = feeds_file or load_settings().feeds_file
    loaded = load_feed_list(path)
    click.echo(f"{path}: {len(loaded)} feeds OK")


@feeds.command("import-opml")
@click.argument("opml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_opml(opml: Path) -> None:
    """Print an OPML subscription list as a validated feed list (YAML) on stdout."""
    from streams.poller.config import feeds_from_opml, parse_feed_list

    text = feeds_from_opml(opml.read_bytes())
    parse_feed_list(text, f"{opml} (converted)")
    click.echo(text, nl=False)
