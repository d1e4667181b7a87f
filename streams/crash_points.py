"""Deterministic crash points for recovery tests: exit abruptly at a named point of the alert path.

``WIREWATCH_TEST_CRASH_AT`` names the point; a worker started with it exits (``os._exit``, no
cleanup, no offset commit, like SIGKILL) the first time the alert agent reaches that point.
Production never sets it.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)
CRASH_EXIT_CODE = 70


def crash_point(configured: str, point: str) -> None:
    """Exit the process now if ``configured`` names ``point``."""
    if configured != point:
        return
    log.critical("test crash point %s reached: exiting abruptly", point)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(CRASH_EXIT_CODE)
