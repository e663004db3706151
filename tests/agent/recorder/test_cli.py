"""The command line: `rpa record` is registered through the `rpa.cli` entry points, and a
recorder that cannot start says why in one fatal `error` event on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
import typer
from typer.testing import CliRunner


def test_rpa_record_browser_is_a_command() -> None:
    [entry] = [ep for ep in entry_points(group="rpa.cli") if ep.name == "record"]
    app = entry.load()
    assert isinstance(app, typer.Typer)
    shown = CliRunner().invoke(app, ["browser", "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    for option in ("--output", "--credential", "--healed", "--screenshots", "--cdp-port"):
        assert option in shown.output


def test_without_a_display_the_recorder_says_so_and_exits_1() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    ran = subprocess.run(
        [sys.executable, "-m", "agent.recorder", "browser", "http://127.0.0.1:9/"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1
    [line] = ran.stdout.splitlines()
    event = json.loads(line)
    assert event["event"] == "error"
    assert event["kind"] == "no_display"
    assert event["fatal"] is True
    assert "DISPLAY" in event["message"]


@pytest.mark.browser
def test_a_start_page_that_does_not_load_is_reported_and_recording_goes_on() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "agent.recorder", "browser", "http://127.0.0.1:9/", "--headless"],
        capture_output=True,
        text=True,
        input="",  # stdin ends at once: the recorder stops after starting
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    assert events[0]["event"] == "ready"
    assert events[-1] == {"event": "stopped", "reason": "stdin_closed", "nodes": 0, "output": None}
    [error] = [e for e in events if e["event"] == "error"]
    assert error["kind"] == "navigation"
    assert error["fatal"] is False
    assert "http://127.0.0.1:9/" in error["message"]
