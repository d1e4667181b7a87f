"""The real worker (Faust app, agents, topics, Kafka) with a stand-in for the spaCy call only.

Run as ``python -m tests.streams.near_miss_worker`` in a pipeline environment. Detection answers
with a near miss for every article whose title holds "slowdown" and with nothing otherwise, so the
near-miss path of ``detect_mentions`` can be driven deterministically whatever the detector does.
Everything else is the production assembly (``streams.app.create_app``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitors.results import DetectionResult, NearMiss


class NearMissPool:
    """A detection pool whose only result is a near miss of ai-moratorium on "slowdown"."""

    async def detect(
        self, watchlist_yaml: str, source: str, articles: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Results in input order, as the real pool returns them."""
        near = NearMiss("ai-moratorium", "partial_rule", "rules[0]: found slowdown; missing AI")
        return [
            DetectionResult(
                article["id"], (), (), (near,) if "slowdown" in article["title"] else ()
            ).to_dict()
            for article in articles
        ]


def main() -> None:
    """Assemble the worker as ``streams.worker.build_worker`` does, with :class:`NearMissPool`."""
    from faust.worker import Worker

    from streams.alerting import make_alerting
    from streams.app import create_app
    from streams.runtime import Runtime
    from streams.topics import create_topics, topic_names
    from streams.watchlists import ActiveWatchlist, load_version
    from wirewatch.bootstrap import resolve_bootstrap
    from wirewatch.settings import load_settings

    settings = load_settings()
    bootstrap = resolve_bootstrap(settings, start_local=False)
    watchlist = ActiveWatchlist(load_version(settings.watchlist))
    names = topic_names(settings)
    create_topics(bootstrap, names, settings)
    runtime = Runtime(
        settings=settings,
        topics=names,
        watchlist=watchlist,
        pool=NearMissPool(),
        alerting=make_alerting(settings, watchlist),
    )
    Worker(create_app(settings, runtime, bootstrap), loglevel="info").execute_from_commandline()


if __name__ == "__main__":
    main()
