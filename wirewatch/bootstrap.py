"""Where Kafka is: the configured cluster, else the local development broker (started if needed)."""

from __future__ import annotations

from wirewatch.settings import Settings


def resolve_bootstrap(settings: Settings, *, start_local: bool = True) -> str:
    """``WIREWATCH_KAFKA_BOOTSTRAP`` when set; otherwise the local broker (started on demand)."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    from wirewatch.errors import LocalKafkaError
    from wirewatch.localkafka import LocalKafka

    broker = LocalKafka(
        home=settings.home,
        data_dir=settings.home / "broker",
        port=settings.local_kafka_port,
        controller_port=settings.local_kafka_port + 1,
    )
    if start_local:
        broker.start()
    elif broker.pid() is None:
        msg = "no Kafka configured (WIREWATCH_KAFKA_BOOTSTRAP) and the local broker is not running"
        raise LocalKafkaError(msg)
    return broker.bootstrap
