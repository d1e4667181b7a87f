"""``wirewatch deadletters list|replay``: see what was parked, and send it back through.

A replay republishes each original to its stage's input topic (articles, or the matches of the
alert stage) with a ``wirewatch-replay`` header; it then takes the normal path with its
idempotence, so an alert already in Slack is never posted twice. Dead-letter topics are
append-only: a replayed record stays listed (replaying it again is harmless).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from streams.dead_letters import StoredDeadLetter
    from wirewatch.settings import Settings

STAGES = ("articles", "alerts")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """``--since``: a duration back from now (``90m``, ``2h``, ``7d``) or an ISO date/time (UTC)."""
    if not value:
        return None
    found = _DURATION.match(value.strip())
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        msg = f"--since {value!r}: expected a duration like 2h or 7d, or an ISO date/time"
        raise click.BadParameter(msg) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _topics(settings: Settings, stage: str | None) -> dict[str, str]:
    from streams.topics import topic_names

    names = topic_names(settings)
    wanted = {"articles": names.articles_dead_letters, "alerts": names.alerts_dead_letters}
    return {s: t for s, t in wanted.items() if stage in (None, s)}


def read_dead_letters(settings: Settings, stage: str | None) -> list[StoredDeadLetter]:
    """Every dead letter of ``stage`` (None: both stages), oldest first per partition."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from streams.dead_letters import StoredDeadLetter
    from streams.records import DeadLetterV1
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.errors import WirewatchError
    from wirewatch.kafka_config import kafka_python_kwargs

    bootstrap = resolve_bootstrap(settings, start_local=False)
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id="wirewatch-deadletters",
            **kafka_python_kwargs(settings),
        )
    except KafkaError as exc:
        msg = f"cannot read dead letters from {bootstrap}: {type(exc).__name__}"
        raise WirewatchError(msg) from None
    letters: list[StoredDeadLetter] = []
    try:
        for name, topic in _topics(settings, stage).items():
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            assigned = [TopicPartition(topic, p) for p in partitions]
            if not assigned:
                continue
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            end = consumer.end_offsets(assigned)
            while any(consumer.position(tp) < end[tp] for tp in assigned):
                for tp, messages in consumer.poll(timeout_ms=1000).items():
                    for message in messages:
                        if message.offset >= end[tp]:
                            continue
                        record = DeadLetterV1.model_validate_json(message.value)
                        letter_id = f"{name}:{tp.partition}:{message.offset}"
                        letters.append(StoredDeadLetter(letter_id, name, record))
    finally:
        consumer.close()
    return letters


@click.group()
def deadletters() -> None:
    """Dead letters: what a stage could not process, and replaying it once fixed."""


_stage_option = click.option(
    "--stage", type=click.Choice(STAGES), default=None, help="Only this stage (default: both)."
)
_since_option = click.option(
    "--since", default=None, help="Only dead letters from this long ago (2h, 7d) or this time."
)


@deadletters.command("list")
@_stage_option
@_since_option
@click.option("--reason", "reasons", multiple=True, help="Only this reason (repeatable).")
def list_dead_letters(stage: str | None, since: str | None, reasons: tuple[str, ...]) -> None:
    """List dead letters (id, time, reason, key, channel, error) and counts by reason."""
    from streams.dead_letters import counts_by_reason, select
    from wirewatch.settings import load_settings

    settings = load_settings()
    letters = select(
        read_dead_letters(settings, stage),
        since=parse_since(since, datetime.now(UTC)),
        reasons=reasons,
    )
    for letter in letters:
        record = letter.record
        where = f" {record.channel}" if record.channel else ""
        error = " ".join(record.error.split())[:160]
        click.echo(
            f"{letter.id}  {record.failed_at:%Y-%m-%d %H:%M:%S}  {letter.reason}  "
            f"{record.key or '-'}{where}  {error}"
        )
    click.echo(f"{len(letters)} dead letter(s)")
    for (letter_stage, reason), count in sorted(counts_by_reason(letters).items()):
        click.echo(f"  {letter_stage:8}  {reason:24}  {count}")


@deadletters.command()
@_stage_option
@_since_option
@click.option("--id", "ids", multiple=True, help="This dead letter (stage:partition:offset).")
@click.option("--reason", "reasons", multiple=True, help="Dead letters with this reason.")
@click.option("--all", "everything", is_flag=True, help="Every dead letter (no filter).")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; send nothing.")
@click.pass_context
def replay(
    ctx: click.Context,
    stage: str | None,
    since: str | None,
    ids: tuple[str, ...],
    reasons: tuple[str, ...],
    everything: bool,
    dry_run: bool,
) -> None:
    """Send dead letters back through the normal path (a posted alert is never posted twice)."""
    from kafka import KafkaProducer

    from streams.dead_letters import REPLAY_HEADER, replay_record, select
    from streams.topics import topic_names
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.kafka_config import kafka_python_kwargs
    from wirewatch.settings import load_settings

    if not (ids or since or reasons or everything):
        msg = "say what to replay: --id, --since, --reason, or --all"
        raise click.UsageError(msg)
    settings = load_settings()
    chosen = select(
        read_dead_letters(settings, stage),
        ids=ids,
        since=parse_since(since, datetime.now(UTC)),
        reasons=reasons,
    )
    names = topic_names(settings)
    planned: list[tuple[Any, tuple[str, bytes | None, bytes]]] = []
    problems = 0
    for letter in chosen:
        try:
            planned.append((letter, replay_record(letter, names)))
        except ValueError as exc:
            click.echo(f"not replayable: {exc}", err=True)
            problems += 1
    if not dry_run and planned:
        producer = KafkaProducer(
            bootstrap_servers=resolve_bootstrap(settings, start_local=False),
            acks="all",
            max_request_size=8 * 1024 * 1024,
            **kafka_python_kwargs(settings),
        )
        try:
            for letter, (topic, key, value) in planned:
                headers = [(REPLAY_HEADER, letter.id.encode())]
                producer.send(topic, key=key, value=value, headers=headers)
            producer.flush(timeout=60)
        finally:
            producer.close()
    verb = "would replay" if dry_run else "replayed"
    for letter, (topic, _, _) in planned:
        click.echo(f"{verb} {letter.id} ({letter.reason}) to {topic}")
    click.echo(f"{verb} {len(planned)} of {len(chosen)} selected dead letter(s)")
    if problems:
        ctx.exit(1)
