"""Writing JSON lines to a file or to stdout (``-``) for the labeling commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from wirewatch.errors import ConfigError


def write_jsonl(path: str, lines: Iterable[Mapping[str, Any]]) -> None:
    """Write one JSON object per line to ``path`` (``-``: stdout), UTF-8, non-ASCII kept."""
    try:
        out = sys.stdout if path == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror}"
        raise ConfigError(msg) from None
    try:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
