"""The command line: `rpa record` is registered, and a recorder that cannot start says why in
one fatal `error` event on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RPA = str(Path(sys.executable).with_name("rpa"))


def test_rpa_record_browser_is_a_command() -> None:
    shown = subprocess.run([RPA, "record", "browser", "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    for option in ("--output", "--credential", "--healed", "--screenshots", "--cdp-port"):
        assert option in shown.stdout


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
