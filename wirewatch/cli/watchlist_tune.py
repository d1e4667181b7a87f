"""Showing and writing the thresholds ``wirewatch watchlist tune`` proposes."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

import click

from wirewatch.errors import ConfigError


def show_or_write(watchlist_path: Path, changes: dict[str, float], write: bool) -> None:
    """Print the change to the watchlist as a diff; with ``write``, apply it atomically.

    Only the thresholds change (:func:`monitors.watchlist_edit.set_thresholds` checks that), and
    the edited text must still validate; otherwise nothing is written.
    """
    from monitors.watchlist import parse_watchlist
    from monitors.watchlist_edit import EditError, set_thresholds

    text = watchlist_path.read_text(encoding="utf-8")
    try:
        edited = set_thresholds(text, changes)
    except EditError as exc:
        msg = f"{watchlist_path}: {exc}"
        raise ConfigError(msg) from None
    parse_watchlist(edited, str(watchlist_path))  # still a valid watchlist, or WatchlistError
    diff = difflib.unified_diff(
        text.splitlines(keepends=True),
        edited.splitlines(keepends=True),
        f"{watchlist_path}",
        f"{watchlist_path} (tuned)",
    )
    click.echo("".join(diff), nl=False)
    if not write:
        click.echo("\n(not written: add --write to apply, or apply the diff above)")
        return
    handle, temporary = tempfile.mkstemp(dir=watchlist_path.parent, prefix=".tune-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(edited)
    os.replace(temporary, watchlist_path)
    click.echo(f"\nwritten: {watchlist_path} (thresholds of {', '.join(sorted(changes))})")
