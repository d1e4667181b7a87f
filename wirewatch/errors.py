"""The single exception root of Wirewatch and its kinds of failure.

Every error Wirewatch raises on purpose derives from :class:`WirewatchError`, so that callers (the
CLI, agents' error boundaries) can tell our own, explained failures from bugs.
"""


class WirewatchError(Exception):
    """Root of every error Wirewatch raises on purpose."""


class ConfigError(WirewatchError):
    """Settings, a watchlist or a feed list are invalid; the message says where and why."""


class LocalKafkaError(WirewatchError):
    """The local development broker could not be installed, started or reached."""


class ModelError(WirewatchError):
    """The configured spaCy pipeline is missing or cannot be loaded."""
