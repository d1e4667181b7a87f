"""The ``wirewatch`` console script: every operational command in one place.

Each command group lives in its own module and imports its heavy dependencies (Faust, spaCy,
slack-sdk) inside the command, so ``wirewatch --help`` stays instant.
"""

from __future__ import annotations

import sys

import click

from wirewatch import __version__
from wirewatch.cli.alert import alert
from wirewatch.cli.config import config
from wirewatch.cli.deadletters import deadletters
from wirewatch.cli.feedback import feedback
from wirewatch.cli.healthcheck import healthcheck
from wirewatch.cli.kafka import kafka
from wirewatch.cli.nearmiss import nearmiss
from wirewatch.cli.poll import feeds, poll
from wirewatch.cli.run import run
from wirewatch.cli.topics import topics
from wirewatch.cli.watchlist import detect, watchlist
from wirewatch.cli.worker import worker
from wirewatch.errors import WirewatchError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="wirewatch")
def cli() -> None:
    """Wirewatch: watch news feeds for the stories you care about and alert Slack, exactly once."""


cli.add_command(alert)
cli.add_command(kafka)
cli.add_command(poll)
cli.add_command(feeds)
cli.add_command(run)
cli.add_command(worker)
cli.add_command(healthcheck)
cli.add_command(config)
cli.add_command(deadletters)
cli.add_command(topics)
cli.add_command(watchlist)
cli.add_command(detect)
cli.add_command(nearmiss)
cli.add_command(feedback)


def main() -> None:
    """Entry point: our own errors print one clear line and exit 2, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except WirewatchError as exc:
        click.echo(f"wirewatch: {exc}", err=True)
        sys.exit(2)
