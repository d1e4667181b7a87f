"""The README's first command: `make run` is `wirewatch run`, which shows the pipeline working.

`wirewatch run` here uses the test broker (``WIREWATCH_KAFKA_BOOTSTRAP``) instead of starting its
own, and this test's own topics; everything else is the embedded default: the bundled demo feed
on loopback, the example watchlist, and console alerts because no Slack credentials are set.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.streams.harness import REPO_ROOT, PipelineEnv, wait_until

pytestmark = pytest.mark.kafka


def test_make_run_runs_the_service() -> None:
    # As a newcomer types it: not inside the `make test` that may be running this suite.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert planned.stdout.strip().splitlines()[-1].endswith("wirewatch run")


def test_wirewatch_run_prints_one_console_alert_per_demo_story_and_stops_on_ctrl_c(
    pipeline: PipelineEnv,
) -> None:
    for key in ("WIREWATCH_WATCHLIST", "WIREWATCH_SLACK_TOKEN", "WIREWATCH_SLACK_API_URL"):
        pipeline.extra.pop(key)
    log = pipeline.home / "run.log"
    with log.open("wb") as out:
        service = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", "run"],
            cwd=REPO_ROOT,
            env=pipeline.environ(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def alert_ids() -> list[str]:
            return re.findall(r"\(alerts: (\w+)\)", log.read_text(errors="replace"))

        assert wait_until(lambda: len(alert_ids()) >= 2, 150), log.read_text()[-4000:]
        time.sleep(10)  # the demo feed's duplicate and unrelated stories have had their turn
        text = log.read_text(errors="replace")
        assert len(alert_ids()) == 2, text[-4000:]
        assert "topic `ai-moratorium`" in text and "topic `twitter-ai`" in text
        service.send_signal(signal.SIGINT)
        assert service.wait(timeout=90) == 0
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert log.read_text(errors="replace").rstrip().endswith("wirewatch: stopped")
