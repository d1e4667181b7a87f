"""The dispatcher: per-channel pacing on a fake clock, digests under a burst, the error taxonomy."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from alerts.dispatch import AlertDispatcher, make_dispatcher
from alerts.formatting import SlackMessage
from alerts.model import Alert
from alerts.outcomes import DeliveryOutcome, OutcomeKind
from tests.alerts.conftest import FakeClock, build_alert
from wirewatch.settings import load_settings


class ScriptedSink:
    """Records every send with the fake time; answers from a per-channel script, else POSTED."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, list[str], SlackMessage]] = []
        self.script: dict[str, list[DeliveryOutcome | Exception]] = {}

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        self.sent.append((self.clock(), channel, list(alert_ids), message))
        queue = self.script.get(channel) or self.script.get("*")
        if queue:
            answer = queue.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return DeliveryOutcome.posted(ts=f"{len(self.sent)}.0")

    async def aclose(self) -> None:
        pass


def setup(clock: FakeClock, **options: float) -> tuple[AlertDispatcher, ScriptedSink]:
    sink = ScriptedSink(clock)
    dispatcher = AlertDispatcher(sink, clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]
    return dispatcher, sink


def alerts_for(channel: str, count: int, prefix: str = "s") -> list[Alert]:
    return [
        build_alert(story_id=f"{prefix}{i}", channel=channel, title=f"Headline {prefix}{i}")
        for i in range(count)
    ]


def gaps(sink: ScriptedSink, channel: str) -> list[float]:
    times = [t for t, c, _, _ in sink.sent if c == channel]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_a_burst_of_500_is_folded_into_paced_digests(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock, digest_threshold=5)
    burst = alerts_for("#news", 500)
    start = clock()
    results = await dispatcher.deliver_batch(burst)
    assert [a for a, _ in results] == burst
    assert all(outcome.kind is OutcomeKind.POSTED for _, outcome in results)
    assert all(outcome.digest for _, outcome in results)
    # 500 alerts, at most 40 to a digest: 13 messages, each alert in exactly one, in order.
    assert len(sink.sent) == 13
    carried = [alert_id for _, _, ids, _ in sink.sent for alert_id in ids]
    assert carried == [a.alert_id for a in burst]
    assert all(m.blocks[0]["text"]["text"].startswith(("39 new", "38 new")) for *_, m in sink.sent)
    # About one message a second; the backlog drains in seconds, not minutes.
    assert all(gap >= 1.0 for gap in gaps(sink, "#news"))
    assert clock() - start <= 13.0


async def test_few_alerts_go_out_one_by_one_paced_across_batches(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock, digest_threshold=5)
    results = await dispatcher.deliver_batch(alerts_for("#news", 3, "a"))
    assert not any(outcome.digest for _, outcome in results)
    clock.now += 0.25  # the next batch arrives a moment later
    await dispatcher.deliver_batch(alerts_for("#news", 2, "b"))
    assert len(sink.sent) == 5
    assert [ids[0] for _, _, ids, _ in sink.sent] == [
        a.alert_id for a in alerts_for("#news", 3, "a") + alerts_for("#news", 2, "b")
    ]
    assert all(gap >= 1.0 for gap in gaps(sink, "#news"))
    assert all(len(m.blocks) >= 3 and "new alerts" not in m.text for *_, m in sink.sent)


async def test_channels_are_paced_separately_and_start_together(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock)
    batch = [a for c in ("#a", "#b", "#c") for a in alerts_for(c, 3)]
    results = await dispatcher.deliver_batch(batch)
    assert [a.channel for a, _ in results] == [a.channel for a in batch]
    first = {c: next(t for t, ch, _, _ in sink.sent if ch == c) for c in ("#a", "#b", "#c")}
    assert len(set(first.values())) == 1  # no channel waits for another one's pace
    for channel in ("#a", "#b", "#c"):
        sent = [ids[0] for _, c, ids, _ in sink.sent if c == channel]
        assert sent == [a.alert_id for a in batch if a.channel == channel]  # order kept
        assert all(gap >= 1.0 for gap in gaps(sink, channel))


async def test_auth_failure_pauses_everything_without_a_retry_storm(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock, auth_probe_interval=30.0)
    sink.script["*"] = [DeliveryOutcome.auth_paused("token_revoked")]
    batch = alerts_for("#a", 3) + alerts_for("#b", 2)
    results = await dispatcher.deliver_batch(batch)
    assert len(sink.sent) == 1
    assert all(o.kind is OutcomeKind.AUTH_PAUSED for _, o in results)
    assert {o.reason for _, o in results} == {"token_revoked"}
    assert dispatcher.paused and dispatcher.health()["status"] == "red"
    assert dispatcher.health()["reason"] == "token_revoked"

    # Batches kept by the caller come back paused, unsent, until the probe interval.
    for _ in range(5):
        again = await dispatcher.deliver_batch(batch)
        assert all(o.kind is OutcomeKind.AUTH_PAUSED for _, o in again)
    assert len(sink.sent) == 1

    # One probe after the interval; still failing: one request, paused again.
    clock.now += 30
    sink.script["*"] = [DeliveryOutcome.auth_paused("token_revoked")]
    await dispatcher.deliver_batch(batch)
    assert len(sink.sent) == 2 and dispatcher.paused

    # Token fixed: the next probe goes through and delivery resumes.
    clock.now += 30
    results = await dispatcher.deliver_batch(batch)
    assert all(o.kind is OutcomeKind.POSTED for _, o in results)
    assert not dispatcher.paused and dispatcher.health()["status"] == "green"


async def test_channel_error_parks_that_route_only(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock)
    sink.script["#gone"] = [DeliveryOutcome.parked("channel_not_found")]
    batch = alerts_for("#gone", 3) + alerts_for("#news", 3)
    results = await dispatcher.deliver_batch(batch)
    by_channel = {c: [o for a, o in results if a.channel == c] for c in ("#gone", "#news")}
    assert [o.kind for o in by_channel["#gone"]] == [OutcomeKind.PARKED] * 3
    assert {o.reason for o in by_channel["#gone"]} == {"channel_not_found"}
    assert [o.kind for o in by_channel["#news"]] == [OutcomeKind.POSTED] * 3
    assert [c for _, c, _, _ in sink.sent].count("#gone") == 1  # no hammering a dead route
    assert dispatcher.health()["channels"]["#gone"] == {
        "last": "parked",
        "reason": "channel_not_found",
    }


async def test_a_rate_limit_holds_the_channel_for_as_long_as_it_lasts(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock)
    sink.script["#news"] = [DeliveryOutcome.rate_limited(30.0) for _ in range(20)]
    sink.script["#news"] += [DeliveryOutcome.rate_limited(None) for _ in range(5)]
    results = await dispatcher.deliver_batch(alerts_for("#news", 3) + alerts_for("#b", 2))
    assert [o.kind for _, o in results] == [OutcomeKind.POSTED] * 5
    news = [ids[0] for _, c, ids, _ in sink.sent if c == "#news"]
    assert news[-3:] == [a.alert_id for a in alerts_for("#news", 3)]  # in order, after the storm
    assert len(news) == 25 + 3
    assert all(gap >= 30.0 for gap in gaps(sink, "#news")[:20])  # never sooner than Retry-After
    b_times = [t for t, c, _, _ in sink.sent if c == "#b"]
    news_end = max(t for t, c, _, _ in sink.sent if c == "#news")
    assert max(b_times) < news_end  # the other channel did not wait for the storm
    assert dispatcher.rate_limited_since == {}


async def test_an_uncertain_post_holds_the_rest_of_its_channel(clock: FakeClock) -> None:
    dispatcher, sink = setup(clock)
    sink.script["#news"] = [DeliveryOutcome.uncertain("http_503; replay check: missing_scope")]
    results = await dispatcher.deliver_batch(alerts_for("#news", 3) + alerts_for("#b", 1))
    kinds = [o.kind for _, o in results]
    assert kinds == [OutcomeKind.UNCERTAIN, OutcomeKind.HELD, OutcomeKind.HELD, OutcomeKind.POSTED]
    assert results[1][1].reason.startswith("not attempted: http_503")
    assert [c for _, c, _, _ in sink.sent].count("#news") == 1


async def test_a_refused_payload_and_a_raising_sink_do_not_stop_the_channel(
    clock: FakeClock,
) -> None:
    dispatcher, sink = setup(clock)
    sink.script["#news"] = [DeliveryOutcome.failed("invalid_blocks"), RuntimeError("x")]
    results = await dispatcher.deliver_batch(alerts_for("#news", 3))
    assert [o.kind for _, o in results] == [
        OutcomeKind.FAILED,
        OutcomeKind.FAILED,
        OutcomeKind.POSTED,
    ]
    assert results[1][1].reason == "sink_error: RuntimeError"
    assert dispatcher.health()["alerts"] == {"failed": 2, "posted": 1}


async def test_duplicate_free_outcomes_in_input_order(clock: FakeClock) -> None:
    dispatcher, _ = setup(clock)
    batch: list[Alert] = []
    for i in range(4):
        batch += alerts_for("#a", 1, f"a{i}") + alerts_for("#b", 1, f"b{i}")
    results = await dispatcher.deliver_batch(batch)
    assert [a.alert_id for a, _ in results] == [a.alert_id for a in batch]


def test_dispatcher_is_usable_with_defaults() -> None:
    make: Callable[..., AlertDispatcher] = AlertDispatcher
    dispatcher = make(ScriptedSink(FakeClock()))
    assert dispatcher.per_channel_interval == 1.0 and not dispatcher.paused


def test_make_dispatcher_reads_the_settings() -> None:
    settings = load_settings(
        slack_pace_seconds=2.5, slack_digest_threshold=9, slack_auth_probe_seconds=60
    )
    dispatcher = make_dispatcher(settings, ScriptedSink(FakeClock()))
    assert dispatcher.per_channel_interval == 2.5
    assert dispatcher.digest_threshold == 9 and dispatcher.auth_probe_interval == 60
