"""Kafka security settings turned into each client library's options."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from wirewatch.errors import ConfigError
from wirewatch.kafka_config import (
    aiokafka_kwargs,
    faust_credentials,
    kafka_python_kwargs,
    ssl_context,
)
from wirewatch.settings import load_settings


def test_plaintext_adds_nothing() -> None:
    settings = load_settings()
    assert kafka_python_kwargs(settings) == {}
    assert aiokafka_kwargs(settings) == {}
    assert faust_credentials(settings) is None


def test_sasl_ssl_gives_every_client_the_same_credentials(tmp_path: Path) -> None:
    secret = tmp_path / "kafka_password"
    secret.write_text("s3cret-pass\n")
    settings = load_settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="wirewatch",
        kafka_sasl_password_file=str(secret),
    )
    kwargs = kafka_python_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "wirewatch"
    assert kwargs["sasl_plain_password"] == "s3cret-pass"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].check_hostname
    assert aiokafka_kwargs(settings).keys() == kwargs.keys()
    credentials = faust_credentials(settings)
    assert credentials.username == "wirewatch"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.ssl_context is not None
    # The password never shows in the settings' dump or repr.
    assert "s3cret" not in str(settings.redacted()) and "s3cret" not in repr(settings)


def test_sasl_without_credentials_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="kafka_sasl_username and kafka_sasl_password"):
        load_settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u")


def test_sasl_plaintext_has_no_tls_context() -> None:
    settings = load_settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="u",
        kafka_sasl_password="p",
        kafka_sasl_mechanism="PLAIN",
    )
    assert "ssl_context" not in kafka_python_kwargs(settings)
    assert faust_credentials(settings).ssl_context is None


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    settings = load_settings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=str(tmp_path / "missing-ca.pem")
    )
    with pytest.raises(ConfigError, match="Kafka TLS files cannot be loaded"):
        ssl_context(settings)


def test_hostname_check_can_be_turned_off_for_ip_addressed_brokers() -> None:
    settings = load_settings(kafka_security_protocol="SSL", kafka_ssl_check_hostname=False)
    context = ssl_context(settings)
    assert context is not None and not context.check_hostname
