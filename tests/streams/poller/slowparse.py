"""A test-only parse function for the parse workers: a marked body takes an hour to parse.

Deterministic stand-in for a pathological feed (feedparser has taken 15 s on a 5 MB feed); it is
importable by module name, so spawned workers can run it.
"""

from __future__ import annotations

import time

from streams.poller.parser import ParseJob, ParseOutcome, run_parse_job

SLOW_MARK = b"<!-- wirewatch test: this feed takes an hour to parse -->"


def parse_slowly_when_marked(job: ParseJob) -> ParseOutcome:
    """Like :func:`run_parse_job`, but hang for an hour on a body carrying :data:`SLOW_MARK`."""
    if SLOW_MARK in job.body:
        time.sleep(3600)
    return run_parse_job(job)
