"""``wirewatch nearmiss list|export|digest``: the articles that almost matched, for labeling.

All three read a bounded slice of the near-miss topic (from ``--since``, or from ``--offsets``)
without joining a consumer group, so they can run any time next to the workers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from wirewatch.cli.jsonl_out import write_jsonl
from wirewatch.errors import ConfigError

if TYPE_CHECKING:
    from streams.near_misses import NearMissBatch

_SINCE_HELP = "Near misses from this long ago (7d, 36h, 90m) or this ISO date/time."


def _slice_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--since", default="7d", help=_SINCE_HELP),
        click.option(
            "--offsets",
            default=None,
            help="Read from these offsets instead (PARTITION:OFFSET,...; others from the start).",
        ),
        click.option(
            "--topic",
            "topics",
            multiple=True,
            help="Only near misses of this watchlist topic id (repeatable).",
        ),
        click.option(
            "--kafka-topic",
            default=None,
            help="Near-miss topic to read. Default: the deployment's (WIREWATCH_TOPIC_PREFIX).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
def nearmiss() -> None:
    """List, export and digest the articles that almost matched a topic."""


def _read(
    since: str, offsets: str | None, topics: tuple[str, ...], kafka_topic: str | None
) -> tuple[NearMissBatch, datetime | None]:
    from streams.near_misses import collect
    from streams.topic_history import parse_offsets, parse_since, read_topic
    from streams.topics import topic_names
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.kafka_config import kafka_python_kwargs
    from wirewatch.settings import load_settings

    start = None if offsets else parse_since(since)
    start_offsets = parse_offsets(offsets) if offsets else None
    settings = load_settings()
    bootstrap = resolve_bootstrap(settings, start_local=False)
    records = read_topic(
        bootstrap,
        kafka_topic or topic_names(settings).near_misses,
        since=start,
        offsets=start_offsets,
        client_options=kafka_python_kwargs(settings),
    )
    batch = collect((record.value for record in records), set(topics))
    if batch.invalid:
        click.echo(f"skipped {batch.invalid} records that are not near-misses.v1", err=True)
    return batch, start


@nearmiss.command("list")
@_slice_options
def list_cmd(
    since: str, offsets: str | None, topics: tuple[str, ...], kafka_topic: str | None
) -> None:
    """Print the near-miss records as JSON lines, one per article (its latest detection)."""
    batch, _ = _read(since, offsets, topics, kafka_topic)
    write_jsonl("-", [record.model_dump(mode="json", by_alias=True) for record in batch.records])
    click.echo(f"{len(batch.records)} articles with near misses", err=True)


@nearmiss.command()
@_slice_options
@click.option(
    "--articles",
    "articles_path",
    required=True,
    help="Write the articles here, as `watchlist eval --articles` reads them (- is stdout).",
)
@click.option(
    "--labels",
    "labels_path",
    required=True,
    help='Write a labels template here: {"id", "judgments": {}} per article, to fill in.',
)
def export(
    since: str,
    offsets: str | None,
    topics: tuple[str, ...],
    kafka_topic: str | None,
    articles_path: str,
    labels_path: str,
) -> None:
    """Write near misses as articles JSONL plus a labels template ready to fill in."""
    from streams.near_misses import article_line, label_template

    if articles_path == "-" and labels_path == "-":
        msg = "--articles and --labels cannot both be stdout"
        raise ConfigError(msg)
    batch, _ = _read(since, offsets, topics, kafka_topic)
    write_jsonl(articles_path, [article_line(record) for record in batch.records])
    write_jsonl(labels_path, [label_template(record) for record in batch.records])
    click.echo(
        f"exported {len(batch.records)} articles; fill in each label line's judgments "
        '(e.g. {"ai-moratorium": true}), then run `wirewatch watchlist eval`',
        err=True,
    )


@nearmiss.command()
@click.option("--since", default="7d", help=_SINCE_HELP)
@click.option(
    "--channel",
    default=None,
    envvar="WIREWATCH_NEAR_MISS_DIGEST_CHANNEL",
    show_envvar=True,
    help="Operator channel (#name or id). Unset: the digest is off and nothing is posted.",
)
@click.option("--topic", "topics", multiple=True, help="Only this topic id (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print the Slack payload instead of posting it.")
def digest(since: str, channel: str | None, topics: tuple[str, ...], dry_run: bool) -> None:
    """Post the near misses since --since to an operator channel (run it weekly from cron)."""
    from alerts.near_miss_digest import NearMissLine, render_near_miss_digest
    from wirewatch.settings import load_settings
    from wirewatch.slack_client import operator_client

    settings = load_settings()
    channel = channel or settings.near_miss_digest_channel
    if not channel:
        click.echo("near-miss digest is off (set WIREWATCH_NEAR_MISS_DIGEST_CHANNEL)")
        return
    client = None if dry_run else operator_client(settings, "the near-miss digest")
    batch, start = _read(since, None, topics, None)
    lines = [
        NearMissLine(n.topic, r.title, r.link, r.source, n.reason, n.detail)
        for r in batch.records
        for n in r.near_misses
    ]
    if not lines:
        click.echo(f"no near misses since {since}: nothing posted")
        return
    message = render_near_miss_digest(lines, start or datetime.now(UTC), datetime.now(UTC))
    if client is None:
        click.echo(json.dumps({"channel": channel, **message.payload()}, ensure_ascii=False))
        return
    ts = _post(client, channel, message)
    click.echo(f"posted the near-miss digest ({len(batch.records)} articles) to {channel} at {ts}")


def _post(client: Any, channel: str, message: Any) -> str:
    from slack_sdk.errors import SlackApiError

    from alerts.sinks.common import error_code
    from wirewatch.errors import WirewatchError

    try:
        response = client.chat_postMessage(channel=channel, link_names=False, **message.payload())
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        msg = f"Slack refused the near-miss digest for {channel}: {error_code(data.get('error'))}"
        raise WirewatchError(msg) from None
    return str(response.get("ts", ""))
