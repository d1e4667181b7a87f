"""Detection off the event loop: a spawn-started process pool that loads spaCy once per process.

spaCy is CPU-bound; run on the Faust event loop it would stall acks, commits, timers and rebalance
callbacks. Each pool process loads the model in its initializer and caches one compiled
:class:`monitors.detector.Detector` per watchlist version, so a hot-reloaded watchlist costs one
compile per process, not one per batch. Only plain data crosses the process boundary.

A batch that overruns its deadline is retried article by article, so one pathological article
ends in the dead-letter topic instead of stalling its partition; the pool is replaced after a
timeout because a stuck process cannot be interrupted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_process_nlp: Any = None
_process_embedder: Any = None
_process_detectors: dict[str, Any] = {}


def _init_process(model_name: str, embedding_model: str | None = None) -> None:
    """Load spaCy and, when named, the sentence-embedding model: once per process."""
    global _process_nlp, _process_embedder
    from monitors.nlp import load_pipeline

    _process_nlp = load_pipeline(model_name)
    if embedding_model is not None:
        from monitors.embedding import load_embedder

        _process_embedder = load_embedder(embedding_model)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies.

    A worker killed with SIGKILL cannot shut its pool down; without this its detection
    processes would live on as orphans, each holding a spaCy model in memory.
    """
    import ctypes
    import signal
    import sys

    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request above was made
        os._exit(1)


def _start_process(
    init_fn: Callable[..., None], init_args: tuple[Any, ...], parent_pid: int
) -> None:
    import signal

    # Ctrl-C in a terminal reaches the whole process group: the worker handles it and shuts its
    # pool down; a pool process must not die of it mid-batch with a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    init_fn(*init_args)


def _ping() -> bool:
    return _process_nlp is not None


def _detect_in_process(
    watchlist_yaml: str, watchlist_source: str, articles: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run detection on plain-data articles; one failing article yields an error entry."""
    from monitors.article import ArticleText
    from monitors.detector import Detector
    from monitors.watchlist import parse_watchlist

    key = f"{watchlist_source}\0{watchlist_yaml}"
    detector = _process_detectors.get(key)
    if detector is None:
        _process_detectors.clear()  # only the active version is worth keeping
        detector = Detector(
            parse_watchlist(watchlist_yaml, watchlist_source),
            _process_nlp,
            embedder=_process_embedder,
        )
        _process_detectors[key] = detector
    texts = [ArticleText(**article) for article in articles]
    try:
        return [result.to_dict() for result in detector.detect_many(texts)]
    except Exception:
        pass
    outcomes: list[dict[str, Any]] = []
    for text in texts:
        try:
            outcomes.append(detector.detect(text).to_dict())
        except Exception as exc:
            outcomes.append({"error": f"{type(exc).__name__}: {exc}"[:2000]})
    return outcomes


@dataclass(frozen=True)
class DetectionFailure:
    """Why one article could not be run through detection."""

    kind: str  # "timeout" or "error"
    message: str


class DetectionPool:
    """Async facade over the process pool with a per-article deadline."""

    def __init__(
        self,
        model_name: str,
        processes: int,
        timeout_s: float,
        detect_fn: Callable[..., list[dict[str, Any]]] | None = None,
        init_fn: Callable[..., None] | None = None,
        embedding_model: str | None = None,
    ) -> None:
        # detect_fn and init_fn must be importable module-level functions (spawned processes
        # import them by name); tests substitute them to exercise the deadline logic.
        # embedding_model: loaded in every process at start (None: only if a watchlist with
        # examples needs it, then on first use).
        self._model_name = model_name
        self._init_args: tuple[Any, ...] = (
            (model_name,) if embedding_model is None else (model_name, embedding_model)
        )
        self._processes = processes
        self._timeout_s = timeout_s
        self._detect_fn = detect_fn or _detect_in_process
        self._init_fn = init_fn or _init_process
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_process,
            initargs=(self._init_fn, self._init_args, os.getpid()),
        )

    def _replace_pool(self) -> None:
        old = self._pool
        self._pool = self._new_pool()
        # A process stuck on a pathological article would never finish: end it.
        for process in list(getattr(old, "_processes", {}).values()):
            process.kill()
        old.shutdown(wait=False, cancel_futures=True)

    def warm_up_sync(self) -> None:
        """Start every process and load the model now, so that start-up fails fast if it can't."""
        futures = [self._pool.submit(_ping) for _ in range(self._processes)]
        for future in futures:
            future.result(timeout=300)

    async def _run(
        self, watchlist_yaml: str, source: str, articles: list[dict[str, Any]], deadline: float
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._detect_fn, watchlist_yaml, source, articles)
        return await asyncio.wait_for(future, timeout=deadline)

    async def detect(
        self, watchlist_yaml: str, source: str, articles: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any] | DetectionFailure]:
        """Detection results in input order; a failure entry for any article that failed."""
        batch = list(articles)
        if not batch:
            return []
        try:
            results = await self._run(watchlist_yaml, source, batch, self._timeout_s)
        except TimeoutError:
            self._replace_pool()
        except concurrent.futures.process.BrokenProcessPool:
            self._replace_pool()
        else:
            return [_as_outcome(result) for result in results]
        # The batch overran or broke its pool: find the culprit one article at a time.
        outcomes: list[dict[str, Any] | DetectionFailure] = []
        for article in batch:
            try:
                (result,) = await self._run(watchlist_yaml, source, [article], self._timeout_s)
                outcomes.append(_as_outcome(result))
            except TimeoutError:
                self._replace_pool()
                message = f"detection took longer than {self._timeout_s:g}s"
                outcomes.append(DetectionFailure("timeout", message))
            except concurrent.futures.process.BrokenProcessPool as exc:
                self._replace_pool()
                outcomes.append(DetectionFailure("error", f"detection process died: {exc}"))
        return outcomes

    def close(self) -> None:
        """Stop the pool's processes."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _as_outcome(result: dict[str, Any]) -> dict[str, Any] | DetectionFailure:
    if "error" in result and "matches" not in result:
        return DetectionFailure("error", str(result["error"]))
    return result
