"""Topic names and their creation: one place that knows every topic the service uses."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields, replace

from wirewatch.settings import Settings


@dataclass(frozen=True)
class TopicNames:
    """Versioned topic names: a schema change gets a new name, not a silent reinterpretation."""

    articles: str = "wirewatch.articles.v1"
    matches: str = "wirewatch.matches.v1"
    alert_outcomes: str = "wirewatch.alert-outcomes.v1"
    articles_dead_letters: str = "wirewatch.articles.dlq.v1"
    matches_dead_letters: str = "wirewatch.matches.dlq.v1"
    alerts_dead_letters: str = "wirewatch.alerts.dlq.v1"
    watchlists: str = "wirewatch.watchlists.v1"
    near_misses: str = "wirewatch.near-misses.v1"

    @classmethod
    def with_prefix(cls, prefix: str) -> TopicNames:
        """Names under another prefix (tests isolate runs on a shared broker this way)."""
        base = cls()
        return cls(
            **{
                f.name: getattr(base, f.name).replace("wirewatch.", f"{prefix}.", 1)
                for f in fields(cls)
            }
        )

    def all(self) -> dict[str, str]:
        """Field name to topic name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def topic_names(settings: Settings) -> TopicNames:
    """The topic names this deployment uses (the articles topic is a setting of its own)."""
    names = TopicNames.with_prefix(settings.topic_prefix)
    if settings.articles_topic != TopicNames().articles:
        names = replace(names, articles=settings.articles_topic)
    return names


# Compacted topics hold the latest value per key: the newest watchlist, not every push.
_COMPACTED = {"watchlists"}
# A single partition keeps one total order of watchlist pushes.
_SINGLE_PARTITION = {"watchlists"}


def create_topics(bootstrap: str, names: TopicNames, settings: Settings) -> list[str]:
    """Create every pipeline topic that does not exist yet; return the names created.

    Topics are created up front so that partition counts agree between the poller, the workers
    and their changelogs, instead of being auto-created with the broker default.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    from wirewatch.kafka_config import kafka_python_kwargs

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="wirewatch-topics", **kafka_python_kwargs(settings)
    )
    try:
        existing = set(admin.list_topics())
        wanted = {}
        for field_name, topic in names.all().items():
            if topic in existing:
                continue
            config = {"cleanup.policy": "compact"} if field_name in _COMPACTED else {}
            wanted[topic] = {
                "num_partitions": (
                    1 if field_name in _SINGLE_PARTITION else settings.topic_partitions
                ),
                "replication_factor": settings.topic_replication,
                "configs": config,
            }
        if wanted:
            # Another process may create one between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted, wait_for_metadata=True)
        return sorted(wanted)
    finally:
        admin.close()
