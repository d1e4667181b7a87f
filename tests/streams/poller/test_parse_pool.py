"""Parse workers: a parse that overruns its deadline is killed, its worker replaced, the rest
parse on (RELIABILITY 46); a worker that dies is replaced too."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime

from streams.poller.parse_pool import ParsePool
from streams.poller.parser import ParseJob

from .slowparse import SLOW_MARK, parse_slowly_when_marked


def job(n: int, slow: bool = False) -> ParseJob:
    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>"
        f"<item><title>story {n}</title><link>https://pool.example/{n}</link></item>"
        "</channel></rss>"
    ).encode()
    if slow:
        body = body.replace(b"<channel>", b"<channel>" + SLOW_MARK)
    return ParseJob(body, {}, f"https://f{n}/", f"https://f{n}/", "", (), datetime.now(UTC))


async def test_an_overrunning_parse_is_killed_and_the_others_finish() -> None:
    pool = ParsePool(2, deadline_s=2, parse_function=parse_slowly_when_marked)
    try:
        jobs = [job(0, slow=True)] + [job(n) for n in range(1, 21)]
        outcomes = await asyncio.gather(*(pool.parse(j) for j in jobs))
        assert outcomes[0].error_kind == "parse_timeout"
        assert "deadline" in (outcomes[0].error or "")
        assert all(o.error is None and len(o.articles) == 1 for o in outcomes[1:])
        assert pool.killed == 1
        # The killed worker was replaced: the pool parses on.
        again = await asyncio.gather(*(pool.parse(job(n)) for n in range(4)))
        assert all(o.error is None for o in again)
    finally:
        pool.close()


async def test_a_worker_that_dies_is_replaced() -> None:
    pool = ParsePool(1, deadline_s=30, parse_function=parse_slowly_when_marked)
    try:
        assert (await pool.parse(job(1))).error is None
        worker = pool._workers[0]
        slow = asyncio.create_task(pool.parse(job(2, slow=True)))
        assert worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGKILL)  # as the OOM killer would
        outcome = await slow
        assert outcome.error_kind == "parse_crash"
        assert pool.killed == 1
        assert (await pool.parse(job(3))).error is None
        assert pool._workers[0] is not worker
    finally:
        pool.close()
