"""Parsing in worker processes that can be killed: a per-feed deadline that really holds.

A thread stuck in feedparser cannot be stopped, and ``ProcessPoolExecutor`` breaks as a whole
when one of its workers dies. :class:`ParsePool` keeps its own spawned workers, each behind a
pipe, reused across feeds (imports are paid once per worker, not per feed). A job that overruns
its deadline gets its worker SIGKILLed and replaced; the caller sees a ``parse_timeout`` outcome
for that feed only, and the other workers keep going. A worker that dies on its own (the OOM
killer) is replaced the same way.

Waiting for a result needs no thread: the event loop watches the pipe's file descriptor.

Usage::

    pool = ParsePool(processes=2, deadline_s=60)
    outcome = await pool.parse(job)      # a ParseOutcome; never raises for a bad feed
    pool.close()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from streams.poller.parser import ParseJob, ParseOutcome, run_parse_job

log = logging.getLogger(__name__)

ParseFunction = Callable[[ParseJob], ParseOutcome]
_PEAK_MEMORY = "peak-memory"
_READY = "ready"
# A fresh worker imports feedparser and the record models first: slow on a busy machine, and
# not the feed's fault, so the parse deadline starts only once the worker said it is ready.
_START_TIMEOUT_S = 120.0


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
        if job == _PEAK_MEMORY:
            # ru_maxrss is in KiB on Linux: the most this process ever held.
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
            continue
        try:
            outcome = parse(job)
        except Exception as exc:  # parse functions should not raise; a feed never ends a worker
            outcome = ParseOutcome(error=f"parser failure: {type(exc).__name__}: {exc}")
        conn.send(outcome)


class _Worker:
    """One process and the parent's end of its pipe."""

    def __init__(self, context: Any, parse: ParseFunction) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child, parse), name="wirewatch-parse", daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False

    async def call(self, message: object, timeout_s: float | None) -> Any:
        """Send ``message``, wait for the answer; TimeoutError after ``timeout_s``, EOFError if
        the process died."""
        if not self.ready:
            if await self._receive(_START_TIMEOUT_S) != _READY:
                msg = "the parse worker did not start"
                raise EOFError(msg)
            self.ready = True
        self.conn.send(message)
        return await self._receive(timeout_s)

    async def _receive(self, timeout_s: float | None) -> Any:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, ready)
        try:
            async with asyncio.timeout(timeout_s):
                await readable
        finally:
            loop.remove_reader(fd)
        return self.conn.recv()

    def kill(self) -> None:
        """SIGKILL the process and reap it (it is gone in milliseconds)."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()

    def stop(self) -> None:
        """Ask the process to end; kill it if it does not."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.kill()
        with contextlib.suppress(OSError):
            self.conn.close()


class ParsePool:
    """Spawned parse workers with a per-job deadline; see the module docstring."""

    def __init__(
        self,
        processes: int | None = None,
        *,
        deadline_s: float = 60.0,
        parse_function: ParseFunction = run_parse_job,
    ) -> None:
        self.processes = max(1, processes or os.cpu_count() or 1)
        self.deadline_s = deadline_s
        self.killed = 0
        self._parse = parse_function
        # spawn: the poller's threads (kafka-python's I/O thread) must never be forked.
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._waiting: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._closed = False

    def _ensure_started(self) -> None:
        if self._closed:
            msg = "the parse pool is closed"
            raise RuntimeError(msg)
        while len(self._workers) < self.processes:
            worker = _Worker(self._context, self._parse)
            self._workers.append(worker)
            self._idle.append(worker)

    async def _acquire(self) -> _Worker:
        self._ensure_started()
        if self._idle:
            return self._idle.pop()
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Handed a worker just as we were cancelled: give it back, not lose it.
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())
            raise

    def _release(self, worker: _Worker) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and put a fresh one in its place (the pool keeps its size)."""
        worker.kill()
        self._workers.remove(worker)
        if self._closed:
            return
        fresh = _Worker(self._context, self._parse)
        self._workers.append(fresh)
        self._release(fresh)

    async def parse(self, job: ParseJob) -> ParseOutcome:
        """Parse ``job`` in a worker within the deadline; a timeout or a crash is the feed's."""
        worker = await self._acquire()
        try:
            outcome = await worker.call(job, self.deadline_s)
        except TimeoutError:
            self.killed += 1
            log.warning(
                "parsing %s overran its %gs deadline: worker killed and replaced",
                job.feed_url[:200],
                self.deadline_s,
            )
            self._replace(worker)
            return ParseOutcome(
                error=f"parse took longer than the {self.deadline_s:g}s deadline",
                error_kind="parse_timeout",
            )
        except (EOFError, OSError) as exc:
            self.killed += 1
            log.error("a parse worker died on %s (%s); replaced", job.feed_url[:200], exc)
            self._replace(worker)
            return ParseOutcome(error="the parse process died", error_kind="parse_crash")
        except BaseException:
            # Cancelled mid-parse (shutdown): the worker's answer would be read by the next job.
            self._replace(worker)
            raise
        self._release(worker)
        return outcome

    async def peak_memory(self) -> list[int]:
        """The peak resident memory, in bytes, of each current worker (tests, diagnostics)."""
        self._ensure_started()
        peaks = []
        held = [await self._acquire() for _ in range(self.processes)]
        try:
            for worker in held:
                peaks.append(int(await worker.call(_PEAK_MEMORY, 30)))
        finally:
            for worker in held:
                self._release(worker)
        return peaks

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self._idle.clear()
