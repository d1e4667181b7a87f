"""Kafka connection security from :class:`Settings`, as each client library spells it.

One source of truth (``WIREWATCH_KAFKA_SECURITY_PROTOCOL``, ``..._SASL_*``, ``..._SSL_*``) and
three translations: kafka-python (poller, admin, health check), aiokafka, and Faust's
``broker_credentials``. With the default ``PLAINTEXT`` every function returns "nothing to add",
so local and Compose set-ups are unchanged.
"""

from __future__ import annotations

import ssl
from typing import Any

from wirewatch.errors import ConfigError
from wirewatch.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context for the ``SSL``/``SASL_SSL`` protocols, else None.

    Without ``kafka_ssl_cafile`` the system's trust store is used (a public CA).
    """
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    try:
        context = ssl.create_default_context(
            purpose=ssl.Purpose.SERVER_AUTH,
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
    except (OSError, ssl.SSLError) as exc:
        # File names are configuration, not secrets; the key's content never reaches a message.
        msg = f"Kafka TLS files cannot be loaded: {exc}"
        raise ConfigError(msg) from None
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def _sasl(settings: Settings) -> dict[str, Any]:
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return {}
    password = settings.kafka_sasl_password
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": password.get_secret_value() if password else None,
    }


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's producer, consumer and admin client."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    kwargs.update(_sasl(settings))
    return kwargs


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's ``AIOKafkaProducer``/``AIOKafkaConsumer``."""
    # aiokafka spells these options like kafka-python does (it only takes a ready ssl_context).
    return kafka_python_kwargs(settings)


def faust_credentials(settings: Settings) -> Any:
    """``faust.App(broker_credentials=...)``: SASL or TLS credentials, or None for plaintext."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )
