"""Logging for every command: text lines or one JSON object per event, always one line a record.

``configure_logging(level, fmt)`` is called once by each command. Whatever the format, a record's
message has CR/LF and terminal control sequences replaced, so a feed headline carrying a newline
and a fake log line, or an escape that repaints the terminal, stays inside its own record.
Secrets are never passed to loggers (they are ``SecretStr`` in the settings); as a second line
of defence, values that look like Slack tokens or webhook URLs are masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

# CSI/OSC escape sequences first (so their parameters go too), then any other C0/C1 control.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SECRETS = re.compile(
    r"xox[abposre]-[A-Za-z0-9-]+|https://hooks\.slack\.com/[^\s\"']+", re.IGNORECASE
)
_QUIET_LOGGERS = {"kafka": "ERROR", "httpx": "WARNING", "httpcore": "WARNING"}
# Kafka clients report conditions every fresh broker or group shows, and which they retry on their
# own, at WARNING or ERROR. Logged at those levels they read as failures; an ERROR line must always
# mean a real problem. (logger, message template) -> (error class names in the record's arguments
# or None for any, the level it is logged at instead).
_COORDINATOR = "aiokafka.consumer.group_coordinator"
_TRANSIENT: dict[tuple[str, str], tuple[frozenset[str] | None, int]] = {
    # The group coordinator is elected and loads its state for a few seconds after a broker starts
    # or a group first appears; aiokafka asks again until it answers.
    (_COORDINATOR, "Group Coordinator Request failed: %s"): (
        frozenset(
            {
                "GroupCoordinatorNotAvailableError",
                "GroupLoadInProgressError",
                "NotCoordinatorForGroupError",
            }
        ),
        logging.INFO,
    ),
    (_COORDINATOR, "Marking the coordinator dead (node %s)for group %s."): (None, logging.INFO),
    # kafka-python cancels an in-flight metadata request when it closes a connection it no
    # longer needs (the bootstrap connection); the next refresh goes to a live one.
    ("kafka.cluster", "Metadata refresh: failed %s"): (frozenset({"Cancelled"}), logging.DEBUG),
}
# mode (under Faust) says so at ERROR when a service thread has not answered its event loop for
# 3 s: a slow moment on a busy machine (a worker stopping right after start-up shows it), not a
# failure; a real stall is what the health check's stall detection reports.
_SLOW_NOT_FAILED = "]: Thread keepalive is not responding..."
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def clean(text: str) -> str:
    """One safe line: escapes removed, other control characters shown as spaces, secrets masked."""
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub(" ", text)
    return _SECRETS.sub("[redacted]", text)


class TransientConditions(logging.Filter):
    """Logs the Kafka clients' known transient, self-healing conditions below WARNING.

    (And mode's slow-thread notice at WARNING, not ERROR.)

    A handler filter: the record's level is lowered, and the record is then dropped if its logger
    is not enabled for the new level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Lower the level of a known transient record; keep it if its logger still wants it."""
        if record.levelno < logging.WARNING:
            return True
        rule = _TRANSIENT.get((record.name, str(record.msg)))
        if rule is None:
            if record.levelno > logging.WARNING and str(record.msg).endswith(_SLOW_NOT_FAILED):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        errors, level = rule
        if errors is not None:
            args = record.args if isinstance(record.args, tuple) else ()
            if not any(type(arg).__name__ in errors for arg in args):
                return True
        record.levelno, record.levelname = level, logging.getLevelName(level)
        return logging.getLogger(record.name).isEnabledFor(level)


class SafeTextFormatter(logging.Formatter):
    """The classic text format, with the whole record (traceback included) on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Format, then collapse to one clean line (a traceback's lines joined by `` | ``)."""
        return clean(super().format(record).replace("\n", " | "))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise ``record``; ``json.dumps`` escapes any newline left in a value."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": clean(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = clean(value) if isinstance(value, str) else _plain(value)
        if record.exc_info:
            entry["exc"] = clean(self.formatException(record.exc_info).replace("\n", " | "))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return clean(str(value))


def make_formatter(fmt: Literal["text", "json"]) -> logging.Formatter:
    """The formatter for ``fmt``."""
    if fmt == "json":
        return JsonFormatter()
    return SafeTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(
    level: str | int = "INFO",
    fmt: Literal["text", "json"] = "text",
    stream: TextIO | None = None,
) -> None:
    """Send every record of the process to ``stream`` (stderr) in ``fmt``, at ``level``.

    Replaces handlers installed before (``logging.basicConfig`` by a library, Faust's own set-up)
    on the root logger, so each event is written exactly once.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(TransientConditions())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # kafka-python narrates every reconnect at INFO/WARNING, httpx every request at INFO; our
    # own records say what matters.
    for name, quiet in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)


def settings_log_format() -> Literal["text", "json"]:
    """``WIREWATCH_LOG_FORMAT`` without validating the other settings (logging comes first)."""
    import os

    value = os.environ.get("WIREWATCH_LOG_FORMAT", "text").strip().lower()
    return "json" if value == "json" else "text"


def dict_config(level: str | int = "INFO", fmt: Literal["text", "json"] = "text") -> dict[str, Any]:
    """The same set-up as a ``logging.config.dictConfig`` dict.

    For Faust's worker, which configures logging itself when it starts:
    ``faust.Worker(app, loglevel=level, logging_config=dict_config(level, fmt))``.
    """
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"()": SafeTextFormatter, "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    level_name = level.upper() if isinstance(level, str) else logging.getLevelName(level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"wirewatch": formatter},
        "filters": {"transient": {"()": TransientConditions}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "wirewatch",
                "filters": ["transient"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level_name, "handlers": ["default"]},
        "loggers": {name: {"level": quiet} for name, quiet in _QUIET_LOGGERS.items()},
    }
