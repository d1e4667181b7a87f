"""``wirewatch alert test`` against the loopback Slack and the console; the pure-core boundary."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pytest
from click.testing import CliRunner

from tests.slackserver import VALID_TOKEN, SlackServer
from wirewatch.cli import cli

NO_SLACK = {"WIREWATCH_SLACK_TOKEN": None, "WIREWATCH_SLACK_WEBHOOK_URL": None}


def run_alert_test(env: Mapping[str, str | None], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["alert", "test", *args], env={**NO_SLACK, **env})
    return result.exit_code, result.stdout, result.stderr


def test_alert_test_posts_through_the_bot_token(slack_server: SlackServer) -> None:
    env = {"WIREWATCH_SLACK_TOKEN": VALID_TOKEN, "WIREWATCH_SLACK_API_URL": slack_server.api_url}
    code, out, _ = run_alert_test(env, "--channel", "#alerts")
    assert code == 0, out
    assert out.startswith("posted to #alerts via SlackBotSink(")
    assert "(ts " in out
    assert VALID_TOKEN not in out
    (posted,) = slack_server.posts("#alerts")
    assert "&lt;!channel&gt;" in (posted.text or "")


def test_alert_test_uses_the_default_channel_setting(slack_server: SlackServer) -> None:
    env = {
        "WIREWATCH_SLACK_TOKEN": VALID_TOKEN,
        "WIREWATCH_SLACK_API_URL": slack_server.api_url,
        "WIREWATCH_SLACK_DEFAULT_CHANNEL": "#other",
    }
    assert run_alert_test(env)[0] == 0
    assert len(slack_server.posts("#other")) == 1


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("invalid_auth", "auth_paused: invalid_auth (the token is not valid"),
        ("not_in_channel", "parked: not_in_channel (invite the bot first"),
    ],
)
def test_alert_test_reports_failures_and_exits_non_zero(
    slack_server: SlackServer, fault: str, expected: str
) -> None:
    slack_server.fail(fault, times=None)
    env = {"WIREWATCH_SLACK_TOKEN": VALID_TOKEN, "WIREWATCH_SLACK_API_URL": slack_server.api_url}
    code, out, err = run_alert_test(env, "--channel", "#news")
    assert code == 1 and out == ""
    assert expected in err and VALID_TOKEN not in err


def test_alert_test_through_a_webhook(slack_server: SlackServer) -> None:
    code, out, _ = run_alert_test({"WIREWATCH_SLACK_WEBHOOK_URL": slack_server.webhook_url})
    assert code == 0 and out.startswith("posted to #wirewatch via SlackWebhookSink(url=****")
    assert slack_server.webhook_url not in out and len(slack_server.posts()) == 1


def test_alert_test_prints_to_the_console_without_credentials() -> None:
    code, out, _ = run_alert_test({}, "--verbose")
    assert code == 0
    assert "WIREWATCH TEST ALERT" in out and '"unfurl_links": false' in out
    assert out.rstrip().endswith("via ConsoleSink(verbose=True) (ts console.000001)")


def test_formatting_and_routing_import_no_io_libraries() -> None:
    code = (
        "import sys, alerts.model, alerts.text, alerts.formatting, alerts.routing, "
        "alerts.outcomes, alerts.dispatch, alerts.sinks, alerts.decisions\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('slack_sdk', 'faust', 'kafka', 'aiokafka', 'aiohttp', 'httpx', 'mode')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_dump_shows_the_pending_replay_choice_and_refuses_a_bad_one() -> None:
    shown = CliRunner().invoke(cli, ["config", "dump", "--format", "env"], env=NO_SLACK)
    assert shown.exit_code == 0
    assert "WIREWATCH_SLACK_PENDING_REPLAY=post" in shown.stdout
    env = {**NO_SLACK, "WIREWATCH_SLACK_PENDING_REPLAY": "park"}
    assert (
        "WIREWATCH_SLACK_PENDING_REPLAY=park"
        in CliRunner().invoke(cli, ["config", "dump", "--format", "env"], env=env).stdout
    )
    wrong = subprocess.run(
        [sys.executable, "-m", "wirewatch", "config", "dump"],
        env={"PATH": "", "WIREWATCH_SLACK_PENDING_REPLAY": "maybe"},
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2
    assert "WIREWATCH_SLACK_PENDING_REPLAY" in wrong.stderr and "'post' or 'park'" in wrong.stderr
