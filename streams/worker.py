"""Assemble a worker process: validate everything, then hand over to Faust's worker."""

from __future__ import annotations

from typing import Any

from wirewatch.settings import Settings


def build_runtime(settings: Settings, bootstrap: str) -> Any:
    """Validate the watchlist and the model, create topics, and build the shared runtime."""
    from monitors.embedding import load_embedder
    from monitors.nlp import load_pipeline
    from streams.alerting import make_alerting
    from streams.detection_pool import DetectionPool
    from streams.metrics import WorkerMetrics, metered_sleep
    from streams.runtime import Runtime
    from streams.topics import create_topics, topic_names
    from streams.watchlists import ActiveWatchlist, load_version

    watchlist = ActiveWatchlist(load_version(settings.watchlist))
    # Load the model here first: a missing or corrupt model raises ModelError with its reason,
    # which a pool process could only report as a dead process.
    load_pipeline(settings.spacy_model)
    load_embedder(settings.embedding_model)  # the same for the semantic stage's model
    pool = DetectionPool(
        settings.spacy_model,
        settings.detect_processes,
        settings.detect_timeout_seconds,
        embedding_model=settings.embedding_model,
    )
    pool.warm_up_sync()
    names = topic_names(settings)
    create_topics(bootstrap, names, settings)
    metrics = WorkerMetrics()
    return Runtime(
        settings=settings,
        topics=names,
        watchlist=watchlist,
        pool=pool,
        # Every wait for Slack (pacing, Retry-After) shows in the rate-limit metrics.
        alerting=make_alerting(settings, watchlist, sleep=metered_sleep(metrics)),
        metrics=metrics,
    )


def build_worker(settings: Settings, loglevel: str = "info") -> Any:
    """A ready-to-run ``faust.Worker``."""
    from faust.worker import Worker

    from streams.app import create_app
    from wirewatch.bootstrap import resolve_bootstrap

    bootstrap = resolve_bootstrap(settings)
    runtime = build_runtime(settings, bootstrap)
    app = create_app(settings, runtime, bootstrap)
    from wirewatch.logs import dict_config

    # One record per event, text or JSON (WIREWATCH_LOG_FORMAT), as every other command logs.
    return Worker(app, loglevel=loglevel, logging_config=dict_config(loglevel, settings.log_format))
