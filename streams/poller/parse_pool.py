"""Parsing in worker processes that can be killed: a per-feed deadline that really holds.

A thread stuck in feedparser cannot be stopped, and ``ProcessPoolExecutor`` breaks as a whole
when one of its workers dies. :class:`ParsePool` keeps its own spawned workers, each behind a
pipe, reused across feeds (imports are paid once per worker, not per feed). A job that overruns
its deadline gets its worker SIGKILLed and replaced; the caller sees a ``parse_timeout`` outcome
for that feed only, and the other workers keep going. A worker that dies on its own (the OOM
killer) is replaced the same way.

Each worker is fed by a thread of its own from one shared job queue, so a worker takes its next
job the moment it is done, however busy the event loop is; the threads only wait on pipes (no
GIL held) and hand outcomes back with ``call_soon_threadsafe``.

Usage::

    pool = ParsePool(processes=2, deadline_s=60)
    outcome = await pool.parse(job)      # a ParseOutcome; never raises for a bad feed
    pool.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from streams.poller.parser import ParseJob, ParseOutcome, run_parse_job

log = logging.getLogger(__name__)

ParseFunction = Callable[[ParseJob], ParseOutcome]
_READY = "ready"
# A fresh worker imports feedparser and the record models first: slow on a busy machine, and
# not the feed's fault, so the parse deadline starts only once the worker said it is ready.
_START_TIMEOUT_S = 120.0
# With no count given: one worker per core, up to this many (each holds about 40 MiB).
DEFAULT_MAX_PROCESSES = 4

_Job = tuple[ParseJob, asyncio.AbstractEventLoop, "asyncio.Future[ParseOutcome]"]


def _worker_main(conn: Connection, parse: ParseFunction) -> None:
    """The worker's loop: a job in, an outcome out, until the pipe closes."""
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            outcome = parse(job)
        except Exception as exc:  # parse functions should not raise; a feed never ends a worker
            outcome = ParseOutcome(error=f"parser failure: {type(exc).__name__}: {exc}")
        conn.send(outcome)


class _Worker:
    """One process and the parent's end of its pipe (used by one feeder thread only)."""

    def __init__(self, context: Any, parse: ParseFunction) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child, parse), name="wirewatch-parse", daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False

    def call(self, job: ParseJob, timeout_s: float) -> ParseOutcome:
        """Parse ``job``; TimeoutError after ``timeout_s``, EOFError if the process died."""
        if not self.ready:
            if not self.conn.poll(_START_TIMEOUT_S) or self.conn.recv() != _READY:
                msg = "the parse worker did not start"
                raise EOFError(msg)
            self.ready = True
        self.conn.send(job)
        if not self.conn.poll(timeout_s):
            raise TimeoutError
        outcome: ParseOutcome = self.conn.recv()
        return outcome

    def peak_memory(self) -> int:
        """The most resident memory the process ever held, in bytes (Linux ``VmHWM``)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def kill(self) -> None:
        """SIGKILL the process and reap it (it is gone in milliseconds)."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()


def _settle(future: asyncio.Future[ParseOutcome], outcome: ParseOutcome) -> None:
    if not future.done():
        future.set_result(outcome)


class ParsePool:
    """Spawned parse workers with a per-job deadline; see the module docstring."""

    def __init__(
        self,
        processes: int | None = None,
        *,
        deadline_s: float = 60.0,
        parse_function: ParseFunction = run_parse_job,
    ) -> None:
        self.processes = max(1, processes or min(os.cpu_count() or 1, DEFAULT_MAX_PROCESSES))
        self.deadline_s = deadline_s
        self.killed = 0
        self._parse = parse_function
        # spawn: the poller's threads (kafka-python's I/O thread) must never be forked.
        self._context = multiprocessing.get_context("spawn")
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _ensure_started(self) -> None:
        if self._closed:
            msg = "the parse pool is closed"
            raise RuntimeError(msg)
        while len(self._threads) < self.processes:
            slot = len(self._threads)
            thread = threading.Thread(
                target=self._feed, args=(slot,), name=f"parse-feeder-{slot}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _feed(self, slot: int) -> None:
        """One worker's thread: take a job, run it within the deadline, replace on failure."""
        while (item := self._jobs.get()) is not None:
            job, loop, future = item
            if future.done():  # the caller gave up (cancelled) before its turn
                continue
            with self._lock:
                if self._closed:
                    break
                worker = self._workers.get(slot)
                if worker is None:
                    worker = self._workers[slot] = _Worker(self._context, self._parse)
            try:
                outcome = worker.call(job, self.deadline_s)
            except TimeoutError:
                log.warning(
                    "parsing %s overran its %gs deadline: worker killed and replaced",
                    job.feed_url[:200],
                    self.deadline_s,
                )
                outcome = ParseOutcome(
                    error=f"parse took longer than the {self.deadline_s:g}s deadline",
                    error_kind="parse_timeout",
                )
                self._drop(slot, worker)
            except (EOFError, OSError) as exc:
                if not self._closed:
                    log.error("a parse worker died on %s (%s); replaced", job.feed_url[:200], exc)
                outcome = ParseOutcome(error="the parse process died", error_kind="parse_crash")
                self._drop(slot, worker)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, outcome)

    def _drop(self, slot: int, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            if self._workers.get(slot) is worker:
                del self._workers[slot]
            if not self._closed:
                self.killed += 1

    async def parse(self, job: ParseJob) -> ParseOutcome:
        """Parse ``job`` in a worker within the deadline; a timeout or a crash is the feed's."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ParseOutcome] = loop.create_future()
        self._jobs.put((job, loop, future))
        return await future

    async def peak_memory(self) -> list[int]:
        """The peak resident memory, in bytes, of each live worker (tests, diagnostics)."""
        with self._lock:
            workers = list(self._workers.values())
        return [worker.peak_memory() for worker in workers]

    def close(self) -> None:
        """Stop every worker and its thread."""
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
        for _ in self._threads:
            self._jobs.put(None)
        for worker in workers:
            # Killed, not asked: its thread may be using the pipe; a parser holds no state.
            worker.kill()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
