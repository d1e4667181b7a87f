"""``wirewatch watchlist push FILE``: hot-reload the running workers' watchlist."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="default", help="Watchlist name (the key on the compacted topic).")
def push(file: Path, name: str) -> None:
    """Validate FILE and publish it; running workers switch to it without a restart.

    An invalid file is refused (exit 2, one line per error) and nothing is published.
    """
    from streams.topics import create_topics, topic_names
    from streams.watchlists import load_version, push_watchlist
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.kafka_config import kafka_python_kwargs
    from wirewatch.settings import load_settings

    load_version(file)  # refuse an invalid file before connecting to anything
    settings = load_settings()
    bootstrap = resolve_bootstrap(settings, start_local=False)
    names = topic_names(settings)
    create_topics(bootstrap, names, settings)
    record = push_watchlist(
        bootstrap, names.watchlists, file, name=name, client_options=kafka_python_kwargs(settings)
    )
    click.echo(f"pushed {file} as {record.version} to {names.watchlists}")
