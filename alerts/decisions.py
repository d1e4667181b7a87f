"""What to do with one alert, given what is stored about it: the alert stage's state machine (pure).

The alert agent loads the stored record of an alert (``posted_alerts``), asks
:class:`AlertDecisions`, and carries the answer out (store, record, send, park, wait). Nothing
here touches Kafka, Faust or Slack, so every transition is a plain unit test.

The stored record (``state``) of an alert id is one of::

    None                                    never seen
    {"status": "pending", "since": epoch}   about to be sent, or sent without a known answer
    {"status": "posted", "ts": ...}         Slack has it
    {"status": "parked", "reason": ...}     route broken; in the dead-letter topic
    {"status": "failed", "reason": ...}     Slack refused the payload; in the dead-letter topic
    {"status": "unverified", "reason": ...} maybe posted through a sink that cannot check; parked

The rules, in order: posted is never posted again; muted and cooling-down topics stay quiet (the
cooldown starts only when a post succeeded); anything that may already be in Slack (pending,
failed) is checked against Slack's history first, and when the history cannot tell, the alert is
held, never posted blind. Sinks that cannot check (webhook, console) follow the operator's
``pending_replay`` choice: ``post`` (at-least-once) or ``park`` (dead letters, for a person).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from alerts.outcomes import DeliveryOutcome, HistoryCheck, OutcomeKind

PendingReplay = Literal["post", "park"]
# Stored statuses that mean "this may already be in Slack".
_MAYBE_IN_SLACK = ("pending", "failed")


class Action(StrEnum):
    """What the agent does with an alert."""

    SKIP = "skip"  # nothing to send; record ``outcome`` (duplicate, muted, cooldown)
    POST = "post"  # mark pending, then send
    CHECK_THEN_POST = "check_then_post"  # ask Slack's history first
    DEFER = "defer"  # decide again after this round (its topic's cooldown may start)
    HOLD = "hold"  # keep it (unacknowledged) and try again after a wait
    PARK = "park"  # dead-letter it with ``detail``; record ``outcome``


@dataclass(frozen=True)
class Decision:
    """One decision: the action, the outcome to record, the record to store."""

    action: Action
    outcome: str = ""
    detail: str = ""
    state: dict[str, Any] | None = None  # the new posted_alerts value; None: leave it
    ts: str | None = None
    # HOLD only: True when the alert is certainly not in Slack (it may be posted without a check).
    unsent: bool = False
    # HOLD only: "auth" (health red) or "uncertain"/"unavailable" (health amber).
    hold: str = ""
    # PARK only: the short reason the dead letter is filed under (a Slack error code, or
    # "unverified" when the operator chose to park what a sink cannot check).
    reason: str = ""


@dataclass
class AlertDecisions:
    """The decisions of one alert partition's owner; keeps the cooldown clocks (in memory)."""

    verifiable: bool
    pending_replay: PendingReplay = "post"
    last_posted: dict[tuple[str, str], datetime] = field(default_factory=dict)
    _in_flight: set[tuple[str, str]] = field(default_factory=set)

    def begin_round(self) -> None:
        """A new round of decisions: nothing is in flight any more."""
        self._in_flight.clear()

    def admit(
        self,
        alert: Any,
        state: dict[str, Any] | None,
        now: datetime,
        *,
        muted: bool = False,
        cooldown: timedelta | None = None,
        unsent: bool = False,
        operator_replay: bool = False,
    ) -> Decision:
        """Whether and how to deliver ``alert`` (``unsent``: known not to be in Slack)."""
        status = (state or {}).get("status")
        if status == "posted":
            return Decision(Action.SKIP, "duplicate", "already posted")
        if muted:
            return Decision(Action.SKIP, "muted")
        key = (alert.topic, alert.channel)
        if cooldown:
            last = self.last_posted.get(key)
            if last is not None and now - last < cooldown:
                return Decision(Action.SKIP, "cooldown")
            if key in self._in_flight:
                return Decision(Action.DEFER, detail="an earlier alert of the topic is in flight")
            self._in_flight.add(key)
        if status in _MAYBE_IN_SLACK and not unsent:
            return self._maybe_in_slack(status)
        if status == "unverified" and not operator_replay:
            # Already parked by the operator's choice, and its dead letter is filed: a redelivered
            # copy of the match (at-least-once upstream) must not file a second one. Only an
            # operator's replay sends it again.
            return Decision(
                Action.SKIP, "duplicate", "already parked: maybe posted, cannot be verified"
            )
        return Decision(Action.POST)

    def _maybe_in_slack(self, status: str) -> Decision:
        if self.verifiable:
            return Decision(Action.CHECK_THEN_POST, detail=f"stored as {status}")
        if self.pending_replay == "park":
            return Decision(
                Action.PARK,
                "parked",
                f"stored as {status}: maybe posted, this sink cannot check (pending_replay=park)",
                state={"status": "unverified", "reason": f"stored as {status}"},
                reason="unverified",
            )
        return Decision(Action.POST, detail="unverifiable replay, posted again (at-least-once)")

    def after_check(self, alert: Any, check: HistoryCheck, now: datetime) -> Decision:
        """What the history check of a maybe-posted alert means."""
        if alert.alert_id in check.found:
            ts = check.found[alert.alert_id]
            self.last_posted[(alert.topic, alert.channel)] = now
            return Decision(
                Action.SKIP,
                "duplicate",
                "found in Slack on replay",
                state={"status": "posted", "ts": ts},
                ts=ts,
            )
        if check.complete:
            return Decision(Action.POST, detail="not found in Slack on replay")
        return Decision(
            Action.HOLD,
            detail=f"replay check unavailable: {check.reason}",
            hold="uncertain",
        )

    def pending(self, state: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
        """The pending mark stored before sending (keeps the first mark's time)."""
        if (state or {}).get("status") == "pending" and "since" in (state or {}):
            return dict(state or {})
        return {"status": "pending", "since": now.timestamp()}

    def after_delivery(self, alert: Any, outcome: DeliveryOutcome, now: datetime) -> Decision:
        """What a delivery outcome means for ``alert``."""
        kind = outcome.kind
        if kind is OutcomeKind.POSTED:
            self.last_posted[(alert.topic, alert.channel)] = now
            return Decision(
                Action.SKIP,
                "digested" if outcome.digest else "posted",
                outcome.reason,
                state={"status": "posted", "ts": outcome.ts},
                ts=outcome.ts,
            )
        if kind in (OutcomeKind.PARKED, OutcomeKind.FAILED):
            # A broken route or a refused payload: never deliverable as it is.
            return Decision(
                Action.PARK,
                kind.value,
                outcome.reason,
                state={"status": kind.value, "reason": outcome.reason},
                reason=outcome.reason,
            )
        if kind is OutcomeKind.UNCERTAIN:
            if self.verifiable:
                return Decision(Action.HOLD, detail=outcome.reason, hold="uncertain")
            if self.pending_replay == "park":
                return Decision(
                    Action.PARK,
                    "parked",
                    f"maybe posted ({outcome.reason}); this sink cannot check",
                    state={"status": "unverified", "reason": outcome.reason},
                    reason="unverified",
                )
            # At-least-once, as configured: send it again after the wait.
            return Decision(Action.HOLD, detail=outcome.reason, unsent=True, hold="unavailable")
        hold = "auth" if kind is OutcomeKind.AUTH_PAUSED else "unavailable"
        # AUTH_PAUSED, HELD, RATE_LIMITED: certainly not in Slack; keep it and send it later.
        return Decision(Action.HOLD, detail=outcome.reason, unsent=True, hold=hold)
