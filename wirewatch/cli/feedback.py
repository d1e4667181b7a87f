"""``wirewatch feedback sync``: reactions on the bot's alerts become labels for eval and tune."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from pathlib import Path

import click

from wirewatch.cli.jsonl_out import write_jsonl
from wirewatch.errors import ConfigError

# Outcomes are recorded just after the post; a little slack covers clocks that disagree.
_OUTCOME_MARGIN = timedelta(hours=1)
# An alert follows its article within seconds, unless delivery was held (auth pause, backlog).
_ARTICLE_MARGIN = timedelta(days=2)
_REACTION_NAME = re.compile(r"^[a-z0-9_+'-]{1,100}$")


@click.group()
def feedback() -> None:
    """Turn readers' reactions on alerts into labels."""


@feedback.command()
@click.option(
    "--since", default="7d", help="Alerts posted since this long ago (7d, 36h, 90m) or this time."
)
@click.option(
    "--labels",
    "labels_path",
    required=True,
    help='Write labels here: {"id", "judgments": {topic: true|false}} per article (- is stdout).',
)
@click.option(
    "--articles",
    "articles_path",
    default=None,
    help="Also write the judged articles here, as `watchlist eval --articles` reads them.",
)
@click.option(
    "--watchlist",
    "watchlist_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the channels this watchlist routes to. Default: WIREWATCH_WATCHLIST.",
)
@click.option(
    "--channel", "channels", multiple=True, help="Read this channel instead (repeatable)."
)
@click.option(
    "--wrong",
    multiple=True,
    help="Reaction meaning 'wrong topic' (repeatable). Default: thumbsdown, -1.",
)
@click.option(
    "--right",
    multiple=True,
    help="Reaction meaning 'right' (repeatable). Default: white_check_mark, "
    "heavy_check_mark, +1, thumbsup.",
)
@click.option(
    "--max-pages", type=click.IntRange(1, 1000), default=20, help="History pages per channel."
)
def sync(
    since: str,
    labels_path: str,
    articles_path: str | None,
    watchlist_path: Path | None,
    channels: tuple[str, ...],
    wrong: tuple[str, ...],
    right: tuple[str, ...],
    max_pages: int,
) -> None:
    """Read reactions on the bot's alert messages and write them as per-topic labels.

    Needs a bot token with channels:history (groups:history for private channels) and, for
    channels named #name, channels:read (groups:read); no reactions:read.
    """
    from alerts.feedback import DEFAULT_RIGHT, DEFAULT_WRONG, FeedbackCounts, ReactionMap, combine
    from monitors.watchlist import load_watchlist
    from streams.topic_history import parse_since, read_topic
    from streams.topics import topic_names
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.feedback_sync import (
        article_lines,
        missing_scopes_hint,
        posted_alerts,
        read_verdicts,
        watchlist_channels,
    )
    from wirewatch.kafka_config import kafka_python_kwargs
    from wirewatch.settings import load_settings
    from wirewatch.slack_client import operator_client

    start = parse_since(since)
    try:
        reactions = ReactionMap(
            _reaction_names("--wrong", wrong or DEFAULT_WRONG),
            _reaction_names("--right", right or DEFAULT_RIGHT),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings = load_settings()
    client = operator_client(settings, "feedback sync")
    if not channels:
        loaded = load_watchlist(watchlist_path or settings.watchlist)
        channels = tuple(watchlist_channels(loaded.topics, settings.slack_default_channel))

    counts = FeedbackCounts()
    history = read_verdicts(
        client, channels, start.timestamp(), reactions, counts, max_pages=max_pages
    )
    for channel, hint in missing_scopes_hint(history.errors).items():
        click.echo(f"cannot read {channel}: {hint}", err=True)

    bootstrap = resolve_bootstrap(settings, start_local=False)
    names, options = topic_names(settings), kafka_python_kwargs(settings)
    alerts = {}
    if history.verdicts:  # nothing to look up otherwise
        alerts = posted_alerts(
            r.value
            for r in read_topic(
                bootstrap,
                names.alert_outcomes,
                since=start - _OUTCOME_MARGIN,
                client_options=options,
            )
        )
    result = combine(history.verdicts, alerts, counts)
    lines = result.label_lines()
    write_jsonl(labels_path, lines)
    found = 0
    if articles_path is not None and not lines:
        write_jsonl(articles_path, [])
    elif articles_path is not None:
        texts = article_lines(
            (
                r.value
                for r in read_topic(
                    bootstrap, names.articles, since=start - _ARTICLE_MARGIN, client_options=options
                )
            ),
            {line["id"] for line in lines},
        )
        found = len(texts)
        write_jsonl(articles_path, [texts[line["id"]] for line in lines if line["id"] in texts])
    summary = {
        "labels": len(lines),
        "judgments": sum(len(line["judgments"]) for line in lines),
        **result.counts.to_dict(),
        "channels_unreadable": len(history.errors),
    }
    if articles_path is not None:
        summary["articles_without_text"] = len(lines) - found
    click.echo("feedback: " + json.dumps(summary), err=True)
    if history.errors:
        sys.exit(1)


def _reaction_names(option: str, names: tuple[str, ...]) -> frozenset[str]:
    """Reaction names as Slack spells them (``:-1:`` is ``-1``); anything else is refused."""
    cleaned = set()
    for name in names:
        bare = name.strip().strip(":")
        if not _REACTION_NAME.match(bare):
            msg = f"{option} {name!r}: a reaction name as Slack spells it, e.g. thumbsdown or -1"
            raise ConfigError(msg)
        cleaned.add(bare)
    return frozenset(cleaned)
