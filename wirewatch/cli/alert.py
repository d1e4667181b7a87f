"""``wirewatch alert test``: send a sample alert through the configured sink."""

from __future__ import annotations

import asyncio
from typing import Any

import click

_HINTS = {
    "invalid_auth": "the token is not valid: check WIREWATCH_SLACK_TOKEN(_FILE)",
    "not_authed": "no token was sent: check WIREWATCH_SLACK_TOKEN(_FILE)",
    "token_revoked": "the token was revoked: install the app again and use the new token",
    "account_inactive": "the bot user or workspace is inactive",
    "missing_scope": "the app lacks a scope: add chat:write and reinstall",
    "invalid_token": "the webhook URL is not valid: check WIREWATCH_SLACK_WEBHOOK_URL(_FILE)",
    "no_service": "the webhook was removed: create a new one",
    "channel_not_found": "no such channel, or the bot cannot see it (private channel?)",
    "not_in_channel": "invite the bot first: /invite @<your app> in the channel",
    "is_archived": "the channel is archived",
    "channel_is_archived": "the channel is archived",
}


def sample_alert(channel: str) -> Any:
    """A realistic alert, with the characters that must never fire in Slack."""
    from datetime import UTC, datetime

    from alerts.model import Alert, EntityItem, EvidenceItem, make_alert_id

    now = datetime.now(UTC)
    story = f"wirewatch-test-{now.strftime('%Y%m%dT%H%M%S')}"
    return Alert(
        alert_id=make_alert_id(story, "wirewatch-test", channel),
        story_id=story,
        topic="wirewatch-test",
        topic_name="Wirewatch test alert",
        channel=channel,
        priority="normal",
        title="Acme Corp recalls 10,000 widgets <!channel> (this mention must not fire)",
        link="https://example.com/news/acme-recall",
        source="Example News",
        published=now,
        snippet=(
            "Acme Corp said on Monday it would recall 10,000 widgets after reports of "
            "overheating; regulators in Brussels welcomed the move."
        ),
        highlights=("Acme Corp", "recall"),
        evidence=(EvidenceItem(text="Acme Corp", field="title", rule="keyword"),),
        entities=(
            EntityItem(text="Acme Corp", label="ORG"),
            EntityItem(text="Brussels", label="GPE"),
        ),
        watchlist_version="test",
        article_id="wirewatch-test",
        matched_at=now,
    )


@click.group()
def alert() -> None:
    """Slack alerts: check the configured delivery."""


@alert.command("test")
@click.option(
    "--channel",
    envvar="WIREWATCH_SLACK_DEFAULT_CHANNEL",
    show_envvar=True,
    default=None,
    help="Channel id or #name. Default: the slack_default_channel setting.",
)
@click.option("--verbose", is_flag=True, help="Console sink: print the exact Slack payload too.")
@click.pass_context
def test(ctx: click.Context, channel: str | None, verbose: bool) -> None:
    """Send a sample alert through the configured sink (bot token, webhook, or console)."""
    from alerts.formatting import render_alert
    from alerts.sinks import make_sink
    from wirewatch.settings import load_settings

    settings = load_settings()
    channel = channel or settings.slack_default_channel
    sample = sample_alert(channel)
    sink = make_sink(settings, verbose=verbose)

    async def send() -> Any:
        try:
            return await sink.send(render_alert(sample), channel, [sample.alert_id])
        finally:
            await sink.aclose()

    outcome = asyncio.run(send())
    where = f"{channel} via {sink!r}"
    if outcome.ok:
        ts = f" (ts {outcome.ts})" if outcome.ts else ""
        click.echo(f"posted to {where}{ts}")
        return
    hint = _HINTS.get(outcome.reason, "")
    click.echo(
        f"not posted to {where}: {outcome.kind.value}: {outcome.reason}"
        + (f" ({hint})" if hint else ""),
        err=True,
    )
    ctx.exit(1)
