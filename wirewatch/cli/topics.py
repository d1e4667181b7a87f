"""``wirewatch topics create|list``: create every topic up front with its partitions.

Compose runs ``topics create`` once before the poller and the workers start, so partition counts
agree everywhere (articles and matches: ``WIREWATCH_TOPIC_PARTITIONS``, which bounds the useful
number of workers) instead of being auto-created with the broker's default.
"""

from __future__ import annotations

import time

import click


@click.group()
def topics() -> None:
    """Manage the Kafka topics Wirewatch uses."""


@topics.command()
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=120.0,
    help="Keep retrying this long while Kafka is not reachable yet.",
)
def create(wait_s: float) -> None:
    """Create the pipeline and poller topics that do not exist yet (idempotent)."""
    from kafka.errors import KafkaError

    from streams.poller.state import ensure_topics
    from streams.topics import create_topics, topic_names
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.errors import WirewatchError
    from wirewatch.kafka_config import kafka_python_kwargs
    from wirewatch.settings import load_settings

    settings = load_settings()
    bootstrap = resolve_bootstrap(settings)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            created = create_topics(bootstrap, topic_names(settings), settings)
            created += ensure_topics(
                bootstrap,
                articles_topic=settings.articles_topic,
                state_topic=settings.poller_state_topic,
                partitions=settings.topic_partitions,
                replication=settings.topic_replication,
                client_options=kafka_python_kwargs(settings),
            )
            break
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                msg = f"cannot create topics at {bootstrap}: {type(exc).__name__}: {exc}"
                raise WirewatchError(msg) from None
            click.echo(f"Kafka not ready ({type(exc).__name__}); retrying", err=True)
            time.sleep(2)
    for name in sorted(set(created)):
        click.echo(f"created {name}")
    click.echo(f"topics ready at {bootstrap} ({len(set(created))} created)")


@topics.command("list")
def list_topics() -> None:
    """Print the topic names this deployment uses."""
    from streams.topics import topic_names
    from wirewatch.settings import load_settings

    settings = load_settings()
    names = {**topic_names(settings).all(), "poller_state": settings.poller_state_topic}
    for role, name in sorted(names.items()):
        click.echo(f"{name}\t{role}")
