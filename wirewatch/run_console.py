"""What ``wirewatch run`` shows of its components: alerts on the console, logs in a file.

Each component (``wirewatch poll``, ``wirewatch worker``) runs as a child process that logs one
JSON object per record on stderr and prints alerts on stdout. A relay thread per pipe copies
stdout to the console unchanged and turns each log record into a text line in the log file;
a record reaches the console too when it is at or above the console level (ERROR unless
``--verbose`` or ``WIREWATCH_LOG_LEVEL`` asks for more). Every record is also offered to a
callback, which is how ``run`` learns that a component is ready.
"""

from __future__ import annotations

import collections
import json
import logging
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TextIO

from wirewatch.logs import clean


@dataclass(frozen=True)
class Record:
    """One line a component wrote on stderr: a log record, or raw text (``logger`` empty)."""

    component: str
    level: int
    logger: str
    message: str
    text: str  # the line as the log file keeps it


def parse_record(component: str, line: str) -> Record:
    """A JSON log record (``wirewatch.logs.JsonFormatter``) or, failing that, a raw line."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or not {"level", "logger", "msg"} <= entry.keys():
        raw = clean(line.rstrip("\n"))
        return Record(component, logging.NOTSET, "", raw, f"[{component}] {raw}")
    level_name = str(entry["level"]).upper()
    level = logging.getLevelName(level_name)
    message = str(entry["msg"])
    if entry.get("exc"):
        message = f"{message} | {entry['exc']}"
    text = f"{entry.get('ts', '')} {level_name} [{component}] {entry['logger']}: {message}"
    return Record(
        component, level if isinstance(level, int) else logging.INFO, entry["logger"], message, text
    )


class Console:
    """The terminal, shared by relay threads: whole lines, never two writers at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        """Print ``text`` (one or more lines)."""
        with self._lock:
            self._stream.write(text.rstrip("\n") + "\n")
            self._stream.flush()


class RunLog:
    """The components' records: all in the log file, the important ones on the console too."""

    def __init__(
        self,
        console: Console,
        log_file: TextIO,
        console_level: int,
        on_record: Callable[[Record], None],
        keep_last: int = 20,
    ) -> None:
        self._console = console
        self._file = log_file
        self._file_lock = threading.Lock()
        self._console_level = console_level
        self._on_record = on_record
        self._keep_last = keep_last
        self._last: dict[str, collections.deque[str]] = {}
        self._threads: list[threading.Thread] = []

    def note(self, text: str) -> None:
        """A line of ``run``'s own in the log file (what it printed, what it did)."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        self._write(f"{stamp} [run] {text}")

    def _write(self, line: str) -> None:
        with self._file_lock:
            self._file.write(line + "\n")
            self._file.flush()

    def last_lines(self, component: str) -> list[str]:
        """The component's latest stderr lines (what to show when it exits unexpectedly)."""
        return list(self._last.get(component, ()))

    def follow(self, component: str, process: subprocess.Popen[bytes]) -> list[threading.Thread]:
        """Start relaying ``process``'s stdout to the console and its stderr to the log."""
        assert process.stdout is not None and process.stderr is not None
        self._last[component] = collections.deque(maxlen=self._keep_last)
        threads = [
            threading.Thread(
                target=self._relay_output,
                args=(process.stdout,),
                name=f"{component}-stdout",
                daemon=True,
            ),
            threading.Thread(
                target=self._relay_records,
                args=(component, process.stderr),
                name=f"{component}-stderr",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        self._threads.extend(threads)
        return threads

    def drain(self, timeout_s: float = 5.0) -> None:
        """Wait for the last lines of stopped components (a lingering pipe holder is not waited
        for longer than ``timeout_s`` each)."""
        for thread in self._threads:
            thread.join(timeout=timeout_s)

    def _relay_output(self, pipe: IO[bytes]) -> None:
        # Alerts: one alert is one write of several lines; relaying whatever arrived at once, up
        # to its last newline, keeps an alert's lines together on the console.
        pending = b""
        while chunk := pipe.read1(65536):  # type: ignore[attr-defined]
            complete, _, pending = (pending + chunk).rpartition(b"\n")
            if complete:
                self._console.say(complete.decode("utf-8", errors="replace"))
        if pending:
            self._console.say(pending.decode("utf-8", errors="replace"))

    def _relay_records(self, component: str, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            record = parse_record(component, line)
            self._write(record.text)
            self._last[component].append(record.text)
            raw_shown = not record.logger and self._console_level <= logging.INFO
            if record.level >= self._console_level or raw_shown:
                self._console.say(self._console_line(record))
            self._on_record(record)

    def _console_line(self, record: Record) -> str:
        if self._console_level >= logging.ERROR:
            # Only problems reach the console by default: say which part and where the rest is.
            name = logging.getLevelName(record.level)
            return f"{record.component}: {name} {record.message}"
        return record.text
