"""What became of a delivery attempt, and how Slack's error codes map onto it (pure).

Four kinds, each with one consequence for the caller:

- ``POSTED``: Slack has the message (``ts`` when the API returns one; webhooks do not).
- ``PARKED``: the *route* is broken (channel gone, bot not invited, archived); park that route's
  alerts in the dead-letter topic with the reason; other channels keep flowing.
- ``AUTH_PAUSED``: the *credentials* are broken (invalid, revoked, inactive); stop sending, keep
  the alerts for later, show red health; never retry in a loop.
- ``FAILED``: transient trouble that outlived bounded retries (5xx, resets, timeouts, rate limits),
  or a message Slack refused; dead-letter with the reason (a replay may try again).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeKind(StrEnum):
    """The four kinds of delivery outcome."""

    POSTED = "posted"
    PARKED = "parked"
    AUTH_PAUSED = "auth_paused"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryOutcome:
    """The outcome of delivering one message (shared by every alert the message carried)."""

    kind: OutcomeKind
    ts: str | None = None
    reason: str = ""
    channel_id: str | None = None
    retry_after: float | None = None
    # True when the message was a digest folding several alerts (a burst to one channel).
    digest: bool = False

    @property
    def ok(self) -> bool:
        """True when the message reached Slack."""
        return self.kind is OutcomeKind.POSTED

    @classmethod
    def posted(cls, ts: str | None = None, channel_id: str | None = None) -> DeliveryOutcome:
        """Slack has the message."""
        return cls(OutcomeKind.POSTED, ts=ts, channel_id=channel_id)

    @classmethod
    def parked(cls, reason: str) -> DeliveryOutcome:
        """The route is broken: dead-letter this channel's alerts with ``reason``."""
        return cls(OutcomeKind.PARKED, reason=reason)

    @classmethod
    def auth_paused(cls, reason: str) -> DeliveryOutcome:
        """The credentials are broken: pause delivery, keep the alerts."""
        return cls(OutcomeKind.AUTH_PAUSED, reason=reason)

    @classmethod
    def failed(cls, reason: str, retry_after: float | None = None) -> DeliveryOutcome:
        """Transient failure after bounded retries, or a refused message: dead-letter."""
        return cls(OutcomeKind.FAILED, reason=reason, retry_after=retry_after)


# Web API error codes (https://api.slack.com/methods/chat.postMessage) and incoming-webhook error
# bodies (https://api.slack.com/messaging/webhooks#handling_errors).
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
        "org_login_required",
        "team_access_not_granted",
        "two_factor_setup_required",
        "ekm_access_denied",
        "access_denied",
        # incoming webhooks
        "invalid_token",
        "no_service",
        "no_team",
        "team_disabled",
        "action_prohibited",
    }
)
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "posting_to_general_channel_denied",
        "cannot_reply_to_message",
        "team_not_connected",
        "no_service_id",
        "user_not_found",
        "user_not_in_channel",
    }
)


def outcome_for_error(code: str, retry_after: float | None = None) -> DeliveryOutcome:
    """The outcome of a Slack error ``code`` (after the client's own retries, if any)."""
    code = (code or "unknown_error").strip()
    if code in AUTH_ERRORS:
        return DeliveryOutcome.auth_paused(code)
    if code in CHANNEL_ERRORS:
        return DeliveryOutcome.parked(code)
    return DeliveryOutcome.failed(code, retry_after=retry_after)
