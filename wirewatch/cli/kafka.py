"""``wirewatch kafka start|stop|status|install``: the local development broker."""

from __future__ import annotations

from pathlib import Path

import click

from wirewatch.localkafka import LocalKafka, default_home, ensure_jars, kafka_version

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="WIREWATCH_LOCAL_KAFKA_DIR",
    show_envvar=True,
    help="Folder the broker owns (storage, log, pid). Default: $WIREWATCH_HOME/broker.",
)


@click.group()
def kafka() -> None:
    """Run a local single-node Apache Kafka broker from Apache's jars (no Docker)."""


@kafka.command()
def install() -> None:
    """Download the broker jars from Maven Central (done by `start` on first use)."""
    libs = ensure_jars()
    click.echo(f"Kafka {kafka_version()} jars ready in {libs}")


@kafka.command()
@_data_dir_option
@click.option(
    "--port",
    type=int,
    default=9092,
    envvar="WIREWATCH_LOCAL_KAFKA_PORT",
    show_envvar=True,
    help="Client port on 127.0.0.1 (used when the data folder is new).",
)
@click.option(
    "--controller-port",
    type=int,
    default=None,
    help="KRaft controller port on 127.0.0.1. Default: client port + 1.",
)
def start(data_dir: Path | None, port: int, controller_port: int | None) -> None:
    """Start the broker (downloading jars and formatting storage on first use) and wait for it."""
    broker = LocalKafka(data_dir=data_dir, port=port, controller_port=controller_port or port + 1)
    status = broker.start()
    click.echo(f"Kafka is ready at {status.bootstrap} (pid {status.pid}, data {status.data_dir})")


@kafka.command()
@_data_dir_option
def status(data_dir: Path | None) -> None:
    """Say whether the broker runs and answers; exit 1 when it does not."""
    state = LocalKafka(data_dir=data_dir).status()
    if state.running and state.answers:
        click.echo(f"running: pid {state.pid}, answering at {state.bootstrap}")
    elif state.running:
        click.echo(f"starting or unhealthy: pid {state.pid}, not answering at {state.bootstrap}")
        raise SystemExit(1)
    else:
        click.echo(f"stopped (data {state.data_dir})")
        raise SystemExit(1)


@kafka.command()
@_data_dir_option
def stop(data_dir: Path | None) -> None:
    """Stop the broker (SIGTERM, then SIGKILL after 30 s)."""
    if LocalKafka(data_dir=data_dir).stop():
        click.echo("stopped")
    else:
        click.echo(f"not running (home {default_home()})")
