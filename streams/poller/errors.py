"""Failures of the poller; all derive from :class:`wirewatch.errors.WirewatchError`."""

from __future__ import annotations

from wirewatch.errors import WirewatchError


class FetchError(WirewatchError):
    """One feed could not be fetched; ``kind`` is a short stable word for health and metrics.

    Kinds: ``timeout``, ``too_large``, ``blocked``, ``redirects``, ``connection``, ``protocol``,
    ``http_status``, ``not_found``, ``gone``, ``rate_limited``, ``unavailable``, ``encoding``,
    ``scheme``.
    """

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class BlockedAddressError(FetchError):
    """The target resolves to an address the guard refuses (private, loopback, link-local...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="blocked")


class PublishError(WirewatchError):
    """Kafka did not acknowledge records in time; nothing is marked as seen for them."""
