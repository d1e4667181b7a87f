"""Feed text made safe for a log line: one line, no terminal escapes, bounded length."""

from __future__ import annotations

import re

# ESC-introduced sequences (CSI, OSC ... BEL/ST) first, then every remaining C0/C1 control.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?", re.DOTALL)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r" {2,}")


def log_safe(text: object, limit: int = 300) -> str:
    """``text`` as one printable line: escapes dropped, CR/LF and controls turned into spaces."""
    cleaned = _SPACES.sub(" ", _CONTROLS.sub(" ", _ESCAPES.sub("", str(text)))).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
