"""``wirewatch config dump``: the settings in force, secrets redacted."""

from __future__ import annotations

import json

import click


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "env"]),
    default="json",
    help="JSON, or WIREWATCH_* assignments ready for an env file.",
)
def dump(fmt: str) -> None:
    """Print the validated settings (defaults included); secrets show as **********."""
    from wirewatch.settings import load_settings

    settings = load_settings().redacted()
    if fmt == "json":
        click.echo(json.dumps(settings, indent=2, sort_keys=True))
        return
    for name, value in sorted(settings.items()):
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        click.echo(f"WIREWATCH_{name.upper()}={text}")
