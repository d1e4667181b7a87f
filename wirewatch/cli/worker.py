"""``wirewatch worker``: the Faust worker (detection and alert agents)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "-l",
    "--loglevel",
    default="info",
    envvar="WIREWATCH_LOG_LEVEL",
    show_envvar=True,
    help="Log level.",
)
def worker(loglevel: str) -> None:
    """Run the stream worker until SIGTERM or Ctrl-C.

    Refuses to start, with the reason, when the settings or the watchlist are invalid or the spaCy
    model cannot be loaded: a worker that cannot detect must not consume and drop articles.
    """
    from streams.worker import build_worker
    from wirewatch.logs import configure_logging, settings_log_format
    from wirewatch.settings import load_settings

    # Start-up records (model, topics) in the same format as the running worker's.
    configure_logging(loglevel, settings_log_format())
    faust_worker = build_worker(load_settings(), loglevel=loglevel)
    faust_worker.execute_from_commandline()
