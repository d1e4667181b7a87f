"""Faust agents: short adapters that decode, call the pure core, and send. One agent a module."""

from typing import Any


def raw_topic(app: Any, name: str) -> Any:
    """A topic of raw bytes: agents decode records themselves, so a bad one can be dead-lettered."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
