"""What became of a delivery attempt, and how Slack's error codes map onto it (pure).

Each kind has one consequence for the caller:

- ``POSTED``: Slack has the message (``ts`` when the API returns one; webhooks do not).
- ``PARKED``: the *route* is broken (channel gone, bot not invited, archived); park that route's
  alerts in the dead-letter topic with the reason; other channels keep flowing.
- ``FAILED``: Slack refused the message itself (a payload error); dead-letter with the reason.
- ``AUTH_PAUSED``: the *credentials* are broken (invalid, revoked, inactive); stop sending, keep
  the alerts for later, show red health; never retry in a loop.
- ``RATE_LIMITED``: 429; nothing was posted. The dispatcher waits and sends again, for as long as
  it lasts: a rate limit never drops or dead-letters an alert.
- ``UNCERTAIN``: the send ended without a definite answer (5xx, reset, timeout) and Slack's history
  could not be read to settle it: the message may be in Slack. Hold it and check again later;
  never post it blind.
- ``HELD``: definitely not posted, but not deliverable now (Slack kept failing after bounded,
  checked retries, or an earlier message of the channel is unresolved): keep it for later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeKind(StrEnum):
    """The kinds of delivery outcome."""

    POSTED = "posted"
    PARKED = "parked"
    FAILED = "failed"
    AUTH_PAUSED = "auth_paused"
    RATE_LIMITED = "rate_limited"
    UNCERTAIN = "uncertain"
    HELD = "held"


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
    def failed(cls, reason: str) -> DeliveryOutcome:
        """Slack refused the message itself: dead-letter."""
        return cls(OutcomeKind.FAILED, reason=reason)

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> DeliveryOutcome:
        """HTTP 429: nothing posted; wait ``retry_after`` (None: the header was missing)."""
        return cls(OutcomeKind.RATE_LIMITED, reason="ratelimited", retry_after=retry_after)

    @classmethod
    def uncertain(cls, reason: str) -> DeliveryOutcome:
        """Maybe posted, and the history check could not settle it: hold, never post blind."""
        return cls(OutcomeKind.UNCERTAIN, reason=reason)

    @classmethod
    def held(cls, reason: str) -> DeliveryOutcome:
        """Definitely not posted, not deliverable now: keep for later."""
        return cls(OutcomeKind.HELD, reason=reason)


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
    if code in ("ratelimited", "rate_limited"):
        return DeliveryOutcome.rate_limited(retry_after)
    return DeliveryOutcome.failed(code)


@dataclass(frozen=True)
class HistoryCheck:
    """What Slack's history says about some alert ids: found (with ``ts``), or could not tell.

    ``complete`` is true only when every message that could carry the ids was read: then an id
    absent from ``found`` is definitely not in Slack. When it is false (no history scope, a 429 on
    history, more newer messages than the pages allowed) an absent id means "could not check".
    """

    found: dict[str, str]
    complete: bool
    reason: str = ""

    def settles(self, alert_id: str) -> bool:
        """True when the check says for sure whether ``alert_id`` is in Slack."""
        return alert_id in self.found or self.complete
