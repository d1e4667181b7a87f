"""Delivery through the real slack-sdk clients against the loopback Slack: every error path."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path

import pytest

from alerts.dispatch import AlertDispatcher
from alerts.formatting import render_alert
from alerts.model import Alert
from alerts.outcomes import DeliveryOutcome, OutcomeKind
from alerts.sinks import make_sink
from alerts.sinks.console import ConsoleSink
from alerts.sinks.slack_bot import SlackBotSink
from alerts.sinks.webhook import SlackWebhookSink
from tests.alerts.conftest import FakeClock, build_alert
from tests.slackserver import VALID_TOKEN, WEBHOOK_PATH, SlackServer
from wirewatch.settings import load_settings


def bot(server: SlackServer, clock: FakeClock, **options: object) -> SlackBotSink:
    return SlackBotSink(VALID_TOKEN, base_url=server.api_url, sleep=clock.sleep, **options)  # type: ignore[arg-type]


def hook(server: SlackServer, clock: FakeClock, url: str | None = None) -> SlackWebhookSink:
    return SlackWebhookSink(url or server.webhook_url, sleep=clock.sleep)


async def send(
    sink: SlackBotSink | SlackWebhookSink, alert: Alert | None = None, channel: str = "#news"
) -> DeliveryOutcome:
    alert = alert or build_alert(channel=channel)
    return await sink.send(render_alert(alert), channel, [alert.alert_id])


# --- bot token: chat.postMessage --------------------------------------------------------------


async def test_bot_posts_the_rendered_message_with_metadata(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    alert = build_alert(title="<!channel> Acme *recall*")
    outcome = await send(bot(slack_server, clock), alert)
    assert outcome.kind is OutcomeKind.POSTED and outcome.ts
    assert outcome.channel_id == slack_server.channel_id("news")
    (posted,) = slack_server.posts("#news")
    assert posted.authorized and posted.channel == "#news"
    assert posted.blocks == render_alert(alert).blocks and posted.text == render_alert(alert).text
    assert posted.metadata == {
        "event_type": "wirewatch_alert",
        "event_payload": {"alert_ids": [alert.alert_id]},
    }
    assert posted.body["unfurl_links"] is False and posted.body["unfurl_media"] is False
    assert posted.body["link_names"] is False
    assert "&lt;!channel&gt;" in (posted.text or "")


@pytest.mark.parametrize("retry_after", [3, None])
async def test_rate_limit_waits_at_least_retry_after_then_posts_once(
    slack_server: SlackServer, clock: FakeClock, retry_after: int | None
) -> None:
    slack_server.fail("ratelimited", times=3, retry_after=retry_after)
    sink = bot(slack_server, clock)
    outcome = await send(sink)
    assert outcome.kind is OutcomeKind.POSTED
    assert len(slack_server.posts()) == 1
    assert len(sink.rate_limit.waits) == 3
    assert all(wait >= (retry_after or 1) for wait in sink.rate_limit.waits)
    assert sum(clock.sleeps) >= 3 * (retry_after or 1)


async def test_endless_rate_limit_is_bounded_then_handed_back_as_rate_limited(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("ratelimited", times=None, retry_after=2)
    outcome = await send(bot(slack_server, clock, rate_limit_retries=4))
    assert outcome.kind is OutcomeKind.RATE_LIMITED and outcome.reason == "ratelimited"
    assert outcome.retry_after == 2
    assert len(slack_server.requests) == 5
    assert slack_server.posts() == []


@pytest.mark.parametrize(
    "code", ["invalid_auth", "token_revoked", "account_inactive", "not_authed"]
)
async def test_auth_errors_pause_without_retrying(
    slack_server: SlackServer, clock: FakeClock, code: str
) -> None:
    slack_server.fail(code, times=None)
    outcome = await send(bot(slack_server, clock))
    assert outcome.kind is OutcomeKind.AUTH_PAUSED and outcome.reason == code
    assert len(slack_server.requests) == 1 and clock.sleeps == []


async def test_a_wrong_token_is_refused_by_the_server_and_pauses(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    sink = SlackBotSink("xoxb-wrong", base_url=slack_server.api_url, sleep=clock.sleep)
    outcome = await send(sink)
    assert outcome.kind is OutcomeKind.AUTH_PAUSED and outcome.reason == "invalid_auth"
    assert not slack_server.requests[0].authorized


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_channel_errors_park_the_route(
    slack_server: SlackServer, clock: FakeClock, code: str
) -> None:
    slack_server.fail(code, channel="news", times=None)
    sink = bot(slack_server, clock)
    outcome = await send(sink)
    assert outcome.kind is OutcomeKind.PARKED and outcome.reason == code
    assert len(slack_server.requests) == 1
    assert (await send(sink, channel="#other")).kind is OutcomeKind.POSTED


async def test_unknown_channel_is_parked(slack_server: SlackServer, clock: FakeClock) -> None:
    outcome = await send(bot(slack_server, clock), channel="#nowhere")
    assert outcome.kind is OutcomeKind.PARKED and outcome.reason == "channel_not_found"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_checked_in_history_then_retried(
    slack_server: SlackServer, clock: FakeClock, status: int
) -> None:
    slack_server.fail(f"status:{status}", times=2, method="chat.postMessage")
    sink = bot(slack_server, clock, settle_seconds=4.0)
    assert (await send(sink)).kind is OutcomeKind.POSTED
    assert len(slack_server.posts()) == 1
    methods = [r.method for r in slack_server.requests]
    assert methods.count("conversations.history") == 2  # checked before each retry
    assert clock.sleeps.count(4.0) == 2  # the settle time before each check


@pytest.mark.parametrize("status", [500, 503])
async def test_a_5xx_after_slack_stored_the_message_does_not_post_twice(
    slack_server: SlackServer, clock: FakeClock, status: int
) -> None:
    slack_server.fail(f"status_after_post:{status}", method="chat.postMessage")
    alert = build_alert()
    outcome = await send(bot(slack_server, clock), alert)
    assert outcome.kind is OutcomeKind.POSTED
    (message,) = slack_server.history("news")
    assert outcome.ts == message["ts"]
    assert [r.method for r in slack_server.requests].count("chat.postMessage") == 1


async def test_an_answer_after_the_deadline_is_found_in_history_not_reposted(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("slow_after_post:1.0", method="chat.postMessage")
    outcome = await send(bot(slack_server, clock, timeout=0.3))
    assert outcome.kind is OutcomeKind.POSTED
    assert len(slack_server.history("news")) == 1
    assert [r.method for r in slack_server.requests].count("chat.postMessage") == 1


@pytest.mark.parametrize(
    ("history_fault", "reason"),
    [("missing_scope", "missing_scope"), ("ratelimited", "ratelimited")],
)
async def test_maybe_posted_with_unreadable_history_is_uncertain_not_reposted(
    slack_server: SlackServer, clock: FakeClock, history_fault: str, reason: str
) -> None:
    slack_server.fail("status_after_post:503", method="chat.postMessage")
    slack_server.fail(history_fault, method="conversations.history", times=None)
    outcome = await send(bot(slack_server, clock, rate_limit_retries=1))
    assert outcome.kind is OutcomeKind.UNCERTAIN
    assert outcome.reason == f"http_503; replay check: {reason}"
    assert len(slack_server.posts()) == 1  # the stored one, never a second


async def test_too_many_newer_messages_is_could_not_check(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    sink = bot(slack_server, clock, history_pages=1)
    for n in range(201):
        await send(sink, build_alert(story_id=f"noise-{n}"))
    check = await sink.check_posted("#news", ["never-posted"], None)
    assert not check.complete and check.found == {}
    assert check.reason == "more than 1 pages of history"
    assert not check.settles("never-posted")
    found = await bot(slack_server, clock).check_posted(
        "#news", [build_alert(story_id="noise-200").alert_id]
    )
    assert found.complete and len(found.found) == 1


async def test_server_errors_that_persist_are_held_after_bounded_checked_retries(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("status:500", times=None, method="chat.postMessage")
    outcome = await send(bot(slack_server, clock, max_retries=2))
    assert outcome.kind is OutcomeKind.HELD and outcome.reason == "http_500 after 3 attempts"
    assert [r.method for r in slack_server.requests].count("chat.postMessage") == 3
    assert slack_server.posts() == []


async def test_replay_check_at_startup_reads_the_token_scopes(
    clock: FakeClock,
) -> None:
    with SlackServer(scopes="chat:write") as narrow, SlackServer() as full:
        problem = await bot(narrow, clock).replay_check_problem()
        assert problem == "the token lacks channels:history (and groups:history)"
        assert await bot(full, clock).replay_check_problem() is None


async def test_a_reset_before_posting_is_retried_after_checking_history(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("reset", method="chat.postMessage")
    outcome = await send(bot(slack_server, clock))
    assert outcome.kind is OutcomeKind.POSTED
    assert [r.method for r in slack_server.requests] == [
        "chat.postMessage",
        "conversations.list",
        "conversations.history",
        "chat.postMessage",
    ]
    assert len(slack_server.history("news")) == 1


async def test_a_reset_after_slack_posted_does_not_post_twice(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("reset_after_post", method="chat.postMessage")
    alert = build_alert()
    outcome = await send(bot(slack_server, clock), alert)
    assert outcome.kind is OutcomeKind.POSTED
    (message,) = slack_server.history("news")
    assert outcome.ts == message["ts"]
    assert message["metadata"]["event_payload"]["alert_ids"] == [alert.alert_id]


@pytest.mark.parametrize("code", ["internal_error", "fatal_error", "service_unavailable"])
async def test_slack_trouble_answered_with_200_is_retried_after_checking(
    slack_server: SlackServer, clock: FakeClock, code: str
) -> None:
    slack_server.fail(code, method="chat.postMessage")
    assert (await send(bot(slack_server, clock))).kind is OutcomeKind.POSTED
    slack_server.fail(f"after_post:{code}", method="chat.postMessage")
    assert (await send(bot(slack_server, clock), build_alert(story_id="2"))).kind is (
        OutcomeKind.POSTED
    )
    assert len(slack_server.history("news")) == 2  # once each, never twice


async def test_a_timeout_is_checked_and_then_held_when_nothing_posted(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("slow:1.0", method="chat.postMessage", channel=None)
    slack_server.fail("channel_not_found", method="chat.postMessage")  # the late post is refused
    sink = bot(slack_server, clock, timeout=0.3, max_retries=0)
    outcome = await send(sink)
    assert outcome.kind is OutcomeKind.HELD and outcome.reason == "timeout after 1 attempts"
    assert "conversations.history" in [r.method for r in slack_server.requests]


async def test_connection_refused_fails_after_bounded_retries(clock: FakeClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SlackBotSink(
        VALID_TOKEN, base_url=f"http://127.0.0.1:{port}/api/", sleep=clock.sleep, max_retries=2
    )
    outcome = await send(sink)
    assert outcome.kind is OutcomeKind.HELD
    assert outcome.reason == "connection_refused after 3 attempts"
    assert len(clock.sleeps) == 2


async def test_find_posted_by_name_or_id_reads_metadata(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    sink = bot(slack_server, clock)
    posted = [build_alert(story_id=f"s{i}") for i in range(3)]
    for alert in posted:
        await send(sink, alert)
    fresh = bot(slack_server, clock)  # no channel ids learnt from posting
    ids = [a.alert_id for a in posted] + ["never-posted"]
    assert await fresh.find_posted("#news", ids) == {a.alert_id for a in posted}
    channel_id = slack_server.channel_id("news")
    assert await fresh.find_posted(channel_id, ids, oldest_ts=None) == set(ids[:3])
    history_calls = [r for r in slack_server.requests if r.method == "conversations.history"]
    assert all(r.body["include_all_metadata"] in ("1", "true", True) for r in history_calls)
    assert await fresh.find_posted("#other", ids) == set()


async def test_find_posted_is_empty_when_history_cannot_be_read(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("missing_scope", method="conversations.list", times=None)
    assert await bot(slack_server, clock).find_posted("#news", ["x"]) == set()


async def test_oversized_and_hostile_alerts_are_accepted_by_slack(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    alert = build_alert(
        title="<!here> " * 2000,
        snippet="<@U1> & *x* " * 20_000,
        entities=tuple({"text": f"E{i}", "label": "ORG"} for i in range(500)),
    )
    outcome = await send(bot(slack_server, clock), alert)
    assert outcome.kind is OutcomeKind.POSTED
    (posted,) = slack_server.posts()
    assert "<!here>" not in (posted.text or "") and "<@U1>" not in json.dumps(posted.blocks)


# --- incoming webhook ---------------------------------------------------------------------------


async def test_webhook_posts(slack_server: SlackServer, clock: FakeClock) -> None:
    alert = build_alert()
    outcome = await send(hook(slack_server, clock), alert)
    assert outcome.kind is OutcomeKind.POSTED and outcome.ts is None
    (posted,) = slack_server.posts()
    assert posted.method == "webhook" and posted.authorized
    assert posted.metadata == {
        "event_type": "wirewatch_alert",
        "event_payload": {"alert_ids": [alert.alert_id]},
    }
    assert posted.body["unfurl_links"] is False


async def test_webhook_with_a_wrong_url_pauses(slack_server: SlackServer, clock: FakeClock) -> None:
    url = slack_server.webhook_url.replace("webhooksecret", "revokedsecret")
    outcome = await send(hook(slack_server, clock, url))
    assert outcome.kind is OutcomeKind.AUTH_PAUSED and outcome.reason == "invalid_token"
    assert len(slack_server.requests) == 1


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("no_service", OutcomeKind.AUTH_PAUSED),
        ("channel_not_found", OutcomeKind.PARKED),
        ("channel_is_archived", OutcomeKind.PARKED),
        ("invalid_payload", OutcomeKind.FAILED),
    ],
)
async def test_webhook_errors(
    slack_server: SlackServer, clock: FakeClock, code: str, kind: OutcomeKind
) -> None:
    slack_server.fail(code, method="webhook")
    outcome = await send(hook(slack_server, clock))
    assert outcome.kind is kind and outcome.reason == code


async def test_webhook_rate_limit_is_retried_and_5xx_is_uncertain(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("ratelimited", method="webhook", retry_after=4)
    sink = hook(slack_server, clock)
    assert (await send(sink)).kind is OutcomeKind.POSTED
    assert sink.rate_limit.waits and sink.rate_limit.waits[0] >= 4
    slack_server.fail("status:503", method="webhook")
    outcome = await send(sink)
    assert outcome.kind is OutcomeKind.UNCERTAIN and outcome.reason == "http_503"
    assert len(slack_server.posts()) == 1 and len(slack_server.requests) == 3


async def test_webhook_reset_is_uncertain_not_blindly_retried(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    slack_server.fail("reset_after_post", method="webhook")
    outcome = await send(hook(slack_server, clock))
    assert outcome.kind is OutcomeKind.UNCERTAIN and outcome.reason == "connection_lost"
    assert len(slack_server.requests) == 1 and len(slack_server.posts()) == 1


# --- secrets never leak (RELIABILITY 38) --------------------------------------------------------


async def test_no_secret_in_logs_outcomes_reprs_or_errors(
    slack_server: SlackServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_path = WEBHOOK_PATH.rsplit("/", 1)[1]
    seen: list[str] = []
    for fault in ("invalid_auth", "channel_not_found", "status:500", "reset", "ratelimited"):
        slack_server.fail(fault, times=None)
        bot_sink = bot(slack_server, clock, max_retries=1, rate_limit_retries=1)
        hook_sink = hook(slack_server, clock)
        for sink in (bot_sink, hook_sink):
            outcome = await send(sink)
            seen += [repr(outcome), str(outcome), outcome.reason, repr(sink), str(sink)]
        seen.append(repr(await bot_sink.find_posted("#news", ["x"])))
        slack_server.clear_faults()
    wrong = SlackWebhookSink(slack_server.webhook_url + "x", sleep=clock.sleep)
    seen.append(repr(await send(wrong)))
    settings = load_settings(slack_token=VALID_TOKEN, slack_webhook_url=slack_server.webhook_url)
    seen += [repr(settings), str(settings.redacted()), repr(make_sink(settings))]
    try:
        load_settings(slack_token=VALID_TOKEN, slack_pace_seconds=-1)
    except Exception as exc:  # the settings error must not echo the token either
        seen.append(str(exc))
    everything = "\n".join([caplog.text, *seen])
    assert caplog.records, "the failures were logged"
    assert VALID_TOKEN not in everything
    assert secret_path not in everything and slack_server.webhook_url not in everything


# --- sink choice and the console ----------------------------------------------------------------


def test_make_sink_follows_the_credentials(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(VALID_TOKEN + "\n")
    assert isinstance(make_sink(load_settings(slack_token_file=str(token_file))), SlackBotSink)
    webhook = load_settings(slack_webhook_url="https://hooks.slack.com/services/T/B/x")
    assert isinstance(make_sink(webhook), SlackWebhookSink)
    assert isinstance(make_sink(load_settings()), ConsoleSink)


async def test_console_sink_prints_readably_and_verbatim_when_verbose() -> None:
    alert = build_alert(title="Acme <!channel> & co")
    out = io.StringIO()
    outcome = await ConsoleSink(out).send(render_alert(alert), "#news", [alert.alert_id])
    assert outcome.kind is OutcomeKind.POSTED
    text = out.getvalue()
    assert "ACME CORP" in text and "Acme <!channel> & co (https://www.example.com/" in text
    assert "> Acme Corp said on Monday it would recall" in text and "*" not in text
    verbose = io.StringIO()
    await ConsoleSink(verbose, verbose=True).send(render_alert(alert), "#news", [alert.alert_id])
    payload = json.loads(verbose.getvalue()[verbose.getvalue().index("{") :])
    assert payload["blocks"] == render_alert(alert).blocks
    assert payload["metadata"]["event_payload"]["alert_ids"] == [alert.alert_id]


# --- the dispatcher over the real client ---------------------------------------------------------


async def test_dispatcher_over_the_bot_sink_delivers_each_alert_once(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    sink = bot(slack_server, clock)
    dispatcher = AlertDispatcher(sink, clock=clock, sleep=clock.sleep, digest_threshold=5)
    batch = (
        [build_alert(story_id=f"n{i}", channel="#news") for i in range(12)]
        + [build_alert(story_id=f"o{i}", channel="#other") for i in range(2)]
        + [build_alert(story_id="m", channel="#missing")]
    )
    results = await dispatcher.deliver_batch(batch)
    kinds = {a.channel: {o.kind for a2, o in results if a2.channel == a.channel} for a in batch}
    assert kinds == {
        "#news": {OutcomeKind.POSTED},
        "#other": {OutcomeKind.POSTED},
        "#missing": {OutcomeKind.PARKED},
    }
    assert len(slack_server.posts("#news")) == 1  # one digest
    assert len(slack_server.posts("#other")) == 2
    carried = [
        alert_id
        for p in slack_server.posts()
        for alert_id in (p.metadata or {})["event_payload"]["alert_ids"]
    ]
    assert sorted(carried) == sorted(a.alert_id for a in batch if a.channel != "#missing")


async def test_rate_limits_mid_burst_keep_order_and_lose_nothing(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    sink = bot(slack_server, clock)
    dispatcher = AlertDispatcher(sink, clock=clock, sleep=clock.sleep, digest_threshold=10)
    batch = [build_alert(story_id=f"r{i}", title=f"Story {i}") for i in range(5)]
    await dispatcher.deliver_batch(batch[:1])
    slack_server.fail("ratelimited", times=3, retry_after=3)
    results = await dispatcher.deliver_batch(batch[1:])
    assert all(outcome.kind is OutcomeKind.POSTED for _, outcome in results)
    ids = [m["metadata"]["event_payload"]["alert_ids"][0] for m in slack_server.history("news")]
    assert ids == [a.alert_id for a in batch]
    assert sink.rate_limit.waits and min(sink.rate_limit.waits) >= 3


async def test_a_rate_limit_storm_on_one_channel_holds_it_while_others_flow(
    slack_server: SlackServer, clock: FakeClock
) -> None:
    sink = bot(slack_server, clock, rate_limit_retries=2)
    dispatcher = AlertDispatcher(sink, clock=clock, sleep=clock.sleep, digest_threshold=10)
    slack_server.fail("ratelimited", channel="news", times=25)  # no Retry-After: growing waits
    stormy = [build_alert(story_id=f"s{i}", channel="#news") for i in range(3)]
    calm = [build_alert(story_id=f"c{i}", channel="#other") for i in range(3)]
    results = await dispatcher.deliver_batch(stormy + calm)
    assert all(outcome.kind is OutcomeKind.POSTED for _, outcome in results)
    for channel, batch in (("news", stormy), ("other", calm)):
        ids = [
            m["metadata"]["event_payload"]["alert_ids"][0] for m in slack_server.history(channel)
        ]
        assert ids == [a.alert_id for a in batch]  # each exactly once, in order
    assert dispatcher.rate_limited_since == {}
