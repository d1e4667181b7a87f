"""The Faust app factory: ``create_app(settings)``; importing this module does nothing.

Start-up is fail-fast: the watchlist is validated and the spaCy model loaded in the detection
processes before the app consumes anything, so a worker without its model refuses to start
instead of consuming and dropping articles.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

from streams.agents import detect_mentions, post_alerts
from streams.expiry import expire_state
from streams.lag import watch_worker_lag
from streams.recovery import KeepQueuedTableManager
from streams.runtime import Runtime
from streams.state_dir import claim_state_dir
from wirewatch.kafka_config import faust_credentials
from wirewatch.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, runtime: Runtime, bootstrap: str) -> faust.App:
    """Build the worker's Faust app with its agents, tables, watchlist follower and web views."""
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        # RocksDB: a restart reads its tables from disk and only the changelog written since.
        store=f"{settings.table_store}://",
        datadir=str(claim_state_dir(settings.home, settings.app_id)),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        # concurrency=1 agents and at-least-once processing (faust #606, #502: see STACK.md).
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=8 * 1024 * 1024,
        producer_acks=-1,
        # A worker that died without leaving the group holds its partitions this long.
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_session_timeout_seconds / 10,
        web_enabled=settings.web_port != 0,
        web_port=settings.web_port or 6066,
        web_bind=settings.web_bind,
        web_in_thread=False,
        broker_credentials=faust_credentials(settings),
        # faust's recovery can drop queued events when a worker joins (streams/recovery.py).
        TableManager=KeepQueuedTableManager,
    )
    detect_mentions.register(app, runtime)
    post_alerts.register(app, runtime)
    watch_worker_lag(app, runtime)
    expire_state(app, runtime)

    @app.task
    async def follow_watchlist_pushes() -> None:
        from streams.watchlists import follow_watchlists
        from wirewatch.kafka_config import aiokafka_kwargs

        stop = asyncio.Event()
        while True:
            try:
                await follow_watchlists(
                    bootstrap,
                    runtime.topics.watchlists,
                    runtime.watchlist,
                    stop,
                    client_options=aiokafka_kwargs(settings),
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following watchlist pushes failed; retrying in 5s")
                await asyncio.sleep(5)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        report = runtime.health.report()
        report["watchlist_version"] = runtime.watchlist.current.version
        report["watchlist_error"] = runtime.watchlist.last_error
        return web.json(report, status=200 if report["ok"] else 503)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        body = generate_latest(runtime.metrics.registry)
        return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return app
