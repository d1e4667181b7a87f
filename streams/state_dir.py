"""The worker's local state folder: one per running worker, kept across restarts.

RocksDB lets one process open a table partition's database at a time, yet several workers can
share one ``WIREWATCH_HOME`` (replicas of a Compose service on one named volume, tests). Each
worker therefore claims a *slot*, ``<home>/worker/<app_id>/slot-<n>``, by holding an exclusive
lock on ``slot-<n>.lock`` for as long as it runs, and takes the lowest free one: a worker that
restarts alone gets its own folder back and reads its tables from disk. A slot that changes
hands is still correct: each partition's database records the changelog offset it holds, and
Faust reads only the changelog after that offset.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

_MAX_SLOTS = 1024
# Held open for the life of the process: closing a lock file releases its lock.
_held: list[IO[bytes]] = []


def claim_state_dir(home: Path, app_id: str) -> Path:
    """Lock and return the lowest free slot folder of ``app_id`` under ``home``."""
    base = home / "worker" / app_id
    base.mkdir(parents=True, exist_ok=True)
    for slot in range(_MAX_SLOTS):
        lock = (base / f"slot-{slot}.lock").open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n".encode())
        lock.flush()
        _held.append(lock)
        folder = base / f"slot-{slot}"
        folder.mkdir(exist_ok=True)
        return folder
    msg = f"all {_MAX_SLOTS} worker state slots under {base} are locked by running workers"
    raise RuntimeError(msg)
