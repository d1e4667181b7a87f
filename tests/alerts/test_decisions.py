"""The alert stage's decision core: every transition of the stored state, as plain calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.decisions import Action, AlertDecisions
from alerts.outcomes import DeliveryOutcome, HistoryCheck
from tests.alerts.conftest import build_alert

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ALERT = build_alert()


def bot() -> AlertDecisions:
    return AlertDecisions(verifiable=True)


def hook(policy: Any = "post") -> AlertDecisions:
    return AlertDecisions(verifiable=False, pending_replay=policy)


# --- admission ------------------------------------------------------------------------------------


def test_a_new_alert_is_posted() -> None:
    assert bot().admit(ALERT, None, NOW).action is Action.POST


def test_a_posted_alert_is_never_posted_again() -> None:
    decision = bot().admit(ALERT, {"status": "posted", "ts": "1.0"}, NOW, operator_replay=True)
    assert (decision.action, decision.outcome) == (Action.SKIP, "duplicate")


def test_a_muted_topic_stays_quiet() -> None:
    decision = bot().admit(ALERT, None, NOW, muted=True)
    assert (decision.action, decision.outcome) == (Action.SKIP, "muted")


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_maybe_posted_is_checked_before_posting(status: str) -> None:
    decision = bot().admit(ALERT, {"status": status, "since": 1.0}, NOW)
    assert decision.action is Action.CHECK_THEN_POST


def test_known_unsent_pending_is_posted_without_a_check() -> None:
    decision = bot().admit(ALERT, {"status": "pending"}, NOW, unsent=True)
    assert decision.action is Action.POST


def test_a_parked_alert_replayed_after_the_route_is_fixed_is_posted() -> None:
    decision = bot().admit(ALERT, {"status": "parked", "reason": "channel_not_found"}, NOW)
    assert decision.action is Action.POST


def test_unverifiable_sinks_post_a_pending_replay_again_by_default() -> None:
    decision = hook("post").admit(ALERT, {"status": "pending"}, NOW)
    assert decision.action is Action.POST and "at-least-once" in decision.detail


def test_unverifiable_sinks_park_a_pending_replay_when_told() -> None:
    decision = hook("park").admit(ALERT, {"status": "pending"}, NOW)
    assert (decision.action, decision.outcome, decision.reason) == (
        Action.PARK,
        "parked",
        "unverified",
    )
    assert decision.state == {"status": "unverified", "reason": "stored as pending"}


def test_an_unverified_alert_is_sent_again_only_by_an_operator_replay() -> None:
    state = {"status": "unverified", "reason": "timeout"}
    # A redelivered copy of the match is not parked a second time: its dead letter is filed.
    again = hook("park").admit(ALERT, state, NOW)
    assert (again.action, again.outcome) == (Action.SKIP, "duplicate")
    assert hook("park").admit(ALERT, state, NOW, operator_replay=True).action is Action.POST


# --- cooldown: starts only after a successful post ------------------------------------------------


def test_cooldown_starts_after_a_post_and_ends_after_its_time() -> None:
    core = bot()
    cooldown = timedelta(minutes=30)
    core.after_delivery(ALERT, DeliveryOutcome.posted("1.0"), NOW)
    later = build_alert(story_id="story-2")
    skipped = core.admit(later, None, NOW + timedelta(minutes=10), cooldown=cooldown)
    assert (skipped.action, skipped.outcome) == (Action.SKIP, "cooldown")
    core.begin_round()
    after = core.admit(later, None, NOW + timedelta(minutes=31), cooldown=cooldown)
    assert after.action is Action.POST


@pytest.mark.parametrize(
    "outcome",
    [
        DeliveryOutcome.parked("channel_not_found"),
        DeliveryOutcome.failed("invalid_blocks"),
        DeliveryOutcome.auth_paused("token_revoked"),
        DeliveryOutcome.uncertain("timeout; replay check: missing_scope"),
        DeliveryOutcome.held("http_503 after 4 attempts"),
    ],
)
def test_a_failed_post_does_not_start_the_cooldown(outcome: DeliveryOutcome) -> None:
    core = bot()
    core.after_delivery(ALERT, outcome, NOW)
    core.begin_round()
    later = build_alert(story_id="story-2")
    assert core.admit(later, None, NOW, cooldown=timedelta(hours=1)).action is Action.POST


def test_a_second_alert_of_a_cooling_topic_waits_for_the_first_in_the_same_round() -> None:
    core = bot()
    cooldown = timedelta(hours=1)
    first, second = build_alert(story_id="a"), build_alert(story_id="b")
    assert core.admit(first, None, NOW, cooldown=cooldown).action is Action.POST
    assert core.admit(second, None, NOW, cooldown=cooldown).action is Action.DEFER
    # The first did not make it: next round the second is not silenced by it.
    core.after_delivery(first, DeliveryOutcome.held("http_503 after 4 attempts"), NOW)
    core.begin_round()
    assert core.admit(second, None, NOW, cooldown=cooldown).action is Action.POST
    # Once one is posted, the other is a cooldown.
    core.after_delivery(second, DeliveryOutcome.posted("2.0"), NOW)
    core.begin_round()
    decision = core.admit(first, {"status": "pending"}, NOW, cooldown=cooldown, unsent=True)
    assert decision.outcome == "cooldown"


def test_no_cooldown_means_no_deferral() -> None:
    core = bot()
    assert core.admit(build_alert(story_id="a"), None, NOW).action is Action.POST
    assert core.admit(build_alert(story_id="b"), None, NOW).action is Action.POST


# --- the history check ----------------------------------------------------------------------------


def test_found_in_history_is_recorded_as_posted_without_posting() -> None:
    check = HistoryCheck({ALERT.alert_id: "123.4"}, complete=False)
    decision = bot().after_check(ALERT, check, NOW)
    assert (decision.action, decision.outcome) == (Action.SKIP, "duplicate")
    assert decision.state == {"status": "posted", "ts": "123.4"}
    assert decision.detail == "found in Slack on replay"


def test_not_found_in_a_complete_history_is_posted() -> None:
    decision = bot().after_check(ALERT, HistoryCheck({}, complete=True), NOW)
    assert decision.action is Action.POST and decision.detail == "not found in Slack on replay"


def test_history_that_cannot_be_read_holds_the_alert() -> None:
    decision = bot().after_check(ALERT, HistoryCheck({}, False, "missing_scope"), NOW)
    assert decision.action is Action.HOLD and not decision.unsent
    assert decision.hold == "uncertain" and "missing_scope" in decision.detail


# --- delivery outcomes ----------------------------------------------------------------------------


def test_posted_and_digested_are_stored_as_posted() -> None:
    core = bot()
    posted = core.after_delivery(ALERT, DeliveryOutcome.posted("9.9"), NOW)
    assert (posted.outcome, posted.state) == ("posted", {"status": "posted", "ts": "9.9"})
    digest = DeliveryOutcome(DeliveryOutcome.posted("9.9").kind, ts="9.9", digest=True)
    assert core.after_delivery(ALERT, digest, NOW).outcome == "digested"


def test_route_errors_and_refused_payloads_are_parked_with_their_reason() -> None:
    parked = bot().after_delivery(ALERT, DeliveryOutcome.parked("is_archived"), NOW)
    assert (parked.action, parked.outcome, parked.reason) == (Action.PARK, "parked", "is_archived")
    failed = bot().after_delivery(ALERT, DeliveryOutcome.failed("invalid_blocks"), NOW)
    assert (failed.action, failed.outcome, failed.state) == (
        Action.PARK,
        "failed",
        {"status": "failed", "reason": "invalid_blocks"},
    )


@pytest.mark.parametrize(
    ("outcome", "hold"),
    [
        (DeliveryOutcome.auth_paused("invalid_auth"), "auth"),
        (DeliveryOutcome.held("timeout after 4 attempts"), "unavailable"),
        (DeliveryOutcome.rate_limited(3.0), "unavailable"),
    ],
)
def test_certainly_unsent_alerts_are_held_and_sent_later(
    outcome: DeliveryOutcome, hold: str
) -> None:
    decision = bot().after_delivery(ALERT, outcome, NOW)
    assert decision.action is Action.HOLD and decision.unsent and decision.hold == hold
    assert decision.state is None  # the pending mark stays


def test_uncertain_is_held_unsent_unknown_for_a_bot() -> None:
    decision = bot().after_delivery(ALERT, DeliveryOutcome.uncertain("http_503"), NOW)
    assert decision.action is Action.HOLD and not decision.unsent


def test_uncertain_through_a_webhook_follows_the_setting() -> None:
    again = hook("post").after_delivery(ALERT, DeliveryOutcome.uncertain("http_503"), NOW)
    assert again.action is Action.HOLD and again.unsent  # posted again: at-least-once
    parked = hook("park").after_delivery(ALERT, DeliveryOutcome.uncertain("http_503"), NOW)
    assert (parked.action, parked.reason) == (Action.PARK, "unverified")


def test_the_pending_mark_keeps_its_first_time() -> None:
    core = bot()
    first = core.pending(None, NOW)
    assert first == {"status": "pending", "since": NOW.timestamp()}
    assert core.pending(first, NOW + timedelta(hours=1)) == first
