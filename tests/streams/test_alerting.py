"""The alert agent's adapter: what it reports for each delivered alert."""

from __future__ import annotations

from alerts.dispatch import AlertDispatcher
from alerts.formatting import SlackMessage
from alerts.outcomes import DeliveryOutcome
from streams.alerting import Alerting
from tests.alerts.conftest import FakeClock, build_alert


class PostingSink:
    """Slack that takes every message."""

    def __init__(self) -> None:
        self.messages = 0

    async def send(
        self, message: SlackMessage, channel: str, alert_ids: list[str]
    ) -> DeliveryOutcome:
        self.messages += 1
        return DeliveryOutcome.posted(ts=f"{self.messages}.0")

    async def aclose(self) -> None:
        pass


def alerting(sink: PostingSink) -> Alerting:
    clock = FakeClock()
    dispatcher = AlertDispatcher(sink, clock=clock, sleep=clock.sleep, digest_threshold=5)  # type: ignore[arg-type]
    return Alerting(watchlist=None, dispatcher=dispatcher, sink=sink, default_channel="#alerts")


async def test_alerts_folded_into_a_digest_are_reported_as_digested() -> None:
    sink = PostingSink()
    burst = [build_alert(story_id=f"s{i}", channel="#news") for i in range(7)]
    results = await alerting(sink).deliver(burst)
    assert sink.messages == 1
    assert all(r.ok and r.digest for r in results)
    assert {r.ts for r in results} == {"1.0"}


async def test_alerts_sent_alone_are_reported_as_posted() -> None:
    sink = PostingSink()
    few = [build_alert(story_id=f"s{i}", channel="#news") for i in range(2)]
    results = await alerting(sink).deliver(few)
    assert sink.messages == 2
    assert [(r.ok, r.digest) for r in results] == [(True, False), (True, False)]
