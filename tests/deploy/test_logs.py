"""One record per event, in text or JSON, with hostile text neutralised and secrets masked."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from wirewatch.logs import clean, configure_logging, dict_config

HOSTILE = "Headline\r\n2026-01-01 INFO fake: admin logged in \x1b[2J\x1b]0;pwned\x07\u2028end"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_clean_keeps_one_line_without_escapes() -> None:
    cleaned = clean(HOSTILE)
    assert "\n" not in cleaned and "\r" not in cleaned and "\u2028" not in cleaned
    assert "\x1b" not in cleaned and "\x07" not in cleaned and "pwned" not in cleaned
    assert cleaned.startswith("Headline") and cleaned.endswith("end")


def test_json_format_writes_one_parseable_record_per_event(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log = logging.getLogger("wirewatch.test")
    log.info("feed said %s", HOSTILE, extra={"feed": "http://x/\nfeed"})
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("failed")
    log.debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "info" and first["logger"] == "wirewatch.test"
    assert first["msg"].startswith("feed said Headline") and "\x1b" not in first["msg"]
    assert first["feed"] == "http://x/ feed"
    assert first["ts"].endswith("+00:00")
    assert second["msg"] == "failed" and "ValueError: bad | thing" in second["exc"]


def test_text_format_puts_a_traceback_on_the_same_line(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("headline %s", HOSTILE)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "ERROR x: headline Headline" in lines[0] and "RuntimeError: boom" in lines[0]


def test_token_looking_values_are_masked(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("x").warning(
        "sent xoxb-1234-5678-abcdef to https://hooks.slack.com/services/T0/B0/secret"
    )
    record = json.loads(stream.getvalue())
    assert "xoxb" not in record["msg"] and "secret" not in record["msg"]
    assert record["msg"].count("[redacted]") == 2


def test_dict_config_gives_faust_the_same_json_records(
    restore_root_logger: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(dict_config("WARNING", "json"))
    logging.getLogger("faust.worker").warning("two\nlines")
    logging.getLogger("faust.worker").info("below the level")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["two lines"]


class GroupCoordinatorNotAvailableError(Exception):
    """Named as aiokafka's: the filter knows the error by its class name."""


class Cancelled(Exception):
    """Named as kafka-python's."""


def test_a_fresh_brokers_transient_conditions_are_not_errors(
    restore_root_logger: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(dict_config("INFO", "json"))
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", GroupCoordinatorNotAvailableError())
    coordinator.warning("Marking the coordinator dead (node %s)for group %s.", 1, "wirewatch")
    coordinator.error("Group Coordinator Request failed: %s", PermissionError("denied"))
    logging.getLogger("kafka.cluster").error("Metadata refresh: failed %s", Cancelled())
    levels = [
        (record["level"], record["msg"])
        for record in map(json.loads, capsys.readouterr().err.splitlines())
    ]
    # Retried by the client until the coordinator is elected: information, not a failure.
    assert levels[:2] == [
        ("info", "Group Coordinator Request failed: "),
        ("info", "Marking the coordinator dead (node 1)for group wirewatch."),
    ]
    # Any other failure keeps its level; the cancelled refresh is below kafka's ERROR threshold.
    assert levels[2:] == [("error", "Group Coordinator Request failed: denied")]


def test_a_slow_service_thread_is_a_warning_not_an_error(
    restore_root_logger: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(dict_config("INFO", "json"))
    logging.getLogger("faust.transport.drivers.aiokafka").error(
        "[^---AIOKafkaConsumerThread]: Thread keepalive is not responding..."
    )
    (record,) = map(json.loads, capsys.readouterr().err.splitlines())
    assert record["level"] == "warning"
