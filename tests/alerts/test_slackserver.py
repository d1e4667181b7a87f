"""The loopback Slack itself behaves like Slack where the other tests rely on it."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.slackserver import VALID_TOKEN, SlackServer

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}


def client(server: SlackServer, token: str = VALID_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=server.api_url, retry_handlers=[])


async def error_of(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call  # type: ignore[misc]
    return str(caught.value.response["error"])


async def test_auth_test_checks_the_bearer_token(slack_server: SlackServer) -> None:
    assert (await client(slack_server).auth_test())["ok"] is True
    assert await error_of(client(slack_server, "xoxb-nope").auth_test()) == "invalid_auth"
    assert slack_server.requests[-1].authorized is False


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"blocks": [SECTION] * 51}, "invalid_blocks"),
        (
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
            "invalid_blocks",
        ),
        (
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
            "invalid_blocks",
        ),
        (
            {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]},
            "invalid_blocks",
        ),
        ({"blocks": [{"type": "nonsense"}]}, "invalid_blocks"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": ""}, "no_text"),
        ({"text": "x", "metadata": {"event_type": "t"}}, "invalid_metadata_format"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_message_validates_like_slack(
    slack_server: SlackServer, kwargs: dict[str, Any], error: str
) -> None:
    kwargs.setdefault("text", "fallback")
    assert await error_of(client(slack_server).chat_postMessage(channel="#news", **kwargs)) == error
    assert slack_server.posts() == [] and slack_server.history("news") == []


async def test_history_pages_newest_first_with_metadata_on_request(
    slack_server: SlackServer,
) -> None:
    web = client(slack_server)
    for i in range(5):
        meta = {"event_type": "wirewatch_alert", "event_payload": {"alert_ids": [str(i)]}}
        await web.chat_postMessage(channel="#news", text=f"m{i}", metadata=meta)
    channel = slack_server.channel_id("news")
    first = await web.conversations_history(channel=channel, limit=2, include_all_metadata=True)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["messages"][0]["metadata"]["event_payload"]["alert_ids"] == ["4"]
    cursor = first["response_metadata"]["next_cursor"]
    second = await web.conversations_history(channel=channel, limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    assert "metadata" not in second["messages"][0]


async def test_scripted_faults_are_scoped_and_counted(slack_server: SlackServer) -> None:
    web = client(slack_server)
    slack_server.fail("not_in_channel", channel="#news", times=2)
    assert await error_of(web.chat_postMessage(channel="#news", text="a")) == "not_in_channel"
    assert (await web.chat_postMessage(channel="#other", text="b"))["ok"] is True
    assert await error_of(web.chat_postMessage(channel="#news", text="c")) == "not_in_channel"
    assert (await web.chat_postMessage(channel="#news", text="d"))["ok"] is True
    slack_server.fail("ratelimited", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel="#news", text="e")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"


async def test_incoming_webhook_path(slack_server: SlackServer) -> None:
    ok = await AsyncWebhookClient(slack_server.webhook_url).send(text="hello")
    assert (ok.status_code, ok.body) == (200, "ok")
    bad = await AsyncWebhookClient(slack_server.webhook_url + "x").send(text="hello")
    assert (bad.status_code, bad.body) == (403, "invalid_token")
    (posted,) = slack_server.posts("#wirewatch")
    assert posted.text == "hello" and posted.method == "webhook"
