"""Routing: channels, default channel, muting, opt-in mentions, cooldown; the alert record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.model import Alert, EvidenceItem, make_alert_id
from alerts.routing import (
    CooldownPolicy,
    MatchedArticle,
    TopicAlertSettings,
    effective_mention,
    route_match,
)
from tests.alerts.conftest import build_alert

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MATCH = MatchedArticle(
    article_id="a1",
    topic="acme",
    topic_name="Acme Corp",
    title="Acme recalls widgets",
    link="https://example.com/a1",
    evidence=(EvidenceItem(text="Acme", field="title", rule="keyword"),),
    watchlist_version="v1",
)


def route(settings: TopicAlertSettings, now: datetime = NOW) -> list[Alert]:
    return route_match(MATCH, settings, story_id="st1", default_channel="#default", now=now)


def test_one_alert_per_distinct_channel_in_order() -> None:
    alerts = route(TopicAlertSettings(channels=("#news", "C0ABCDEF1", "#news", " ")))
    assert [a.channel for a in alerts] == ["#news", "C0ABCDEF1"]
    assert alerts[0].alert_id == make_alert_id("st1", "acme", "#news")
    assert len({a.alert_id for a in alerts}) == 2
    assert alerts[0].highlights == ("Acme",)  # from the evidence when the match has none
    assert alerts[0].matched_at == NOW


def test_default_channel_when_the_topic_names_none() -> None:
    assert [a.channel for a in route(TopicAlertSettings())] == ["#default"]


def test_muted_topic_routes_nothing_until_the_mute_ends() -> None:
    settings = TopicAlertSettings(channels=("#news",), muted_until=NOW + timedelta(hours=1))
    assert route(settings) == []
    assert len(route(settings, now=NOW + timedelta(hours=1, seconds=1))) == 1
    past = TopicAlertSettings(channels=("#news",), muted_until=NOW - timedelta(seconds=1))
    assert len(route(past)) == 1


def test_mention_only_when_opted_in_for_the_priority() -> None:
    assert effective_mention(TopicAlertSettings(priority="high")) is None
    assert effective_mention(TopicAlertSettings(priority="high", mention="here")) == "here"
    assert effective_mention(TopicAlertSettings(priority="normal", mention="here")) is None
    normal = TopicAlertSettings(priority="normal", mention="channel", mention_any_priority=True)
    assert effective_mention(normal) == "channel"
    low = TopicAlertSettings(priority="low", mention="channel", mention_any_priority=True)
    assert effective_mention(low) is None
    assert effective_mention(TopicAlertSettings(priority="low", mention="here")) is None
    (alert,) = route(TopicAlertSettings(priority="high", mention="here"))
    assert alert.mention == "here" and alert.priority == "high"


def test_alert_id_is_deterministic_and_distinguishes_each_part() -> None:
    one = make_alert_id("story", "topic", "#c")
    assert one == make_alert_id("story", "topic", "#c")
    assert (
        len({one, make_alert_id("story2", "topic", "#c"), make_alert_id("story", "t", "#c")}) == 3
    )
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert make_alert_id("ab", "c", "#x") != make_alert_id("a", "bc", "#x")


def test_alert_json_round_trip() -> None:
    alert = build_alert(highlights=("Acme", (3, 9)), mention="here")
    again = Alert.from_json(alert.to_json())
    assert again == alert
    assert again.highlights == ("Acme", (3, 9))
    assert again.published == alert.published


def test_cooldown_per_topic_and_channel_on_an_injected_clock() -> None:
    now = [NOW]
    policy = CooldownPolicy(clock=lambda: now[0], default=timedelta(minutes=10))
    assert policy.allow("acme", "#news")
    policy.record("acme", "#news")
    assert not policy.allow("acme", "#news")
    assert policy.allow("acme", "#other") and policy.allow("globex", "#news")
    assert policy.allow("acme", "#news", cooldown=timedelta(0))
    now[0] += timedelta(minutes=10)
    assert policy.allow("acme", "#news")


def test_cooldown_admits_the_first_of_a_run_only() -> None:
    policy = CooldownPolicy(clock=lambda: NOW)
    alerts = [build_alert(story_id=f"s{i}") for i in range(3)] + [build_alert(topic="other")]
    admitted = policy.admit(alerts, {"acme": timedelta(minutes=5)})
    assert [a.story_id for a in admitted] == ["s0", "story-1"]
    assert [a.topic for a in admitted] == ["acme", "other"]
