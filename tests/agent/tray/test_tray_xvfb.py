"""The tray icon for real: under Xvfb with `trayer` as the tray host, Qt's xcb platform finds a
system tray and the agent shows its icon there, not the fallback window; without a tray host, the
fallback window. Each case runs in a child process (this one runs Qt offscreen)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xvfb import xvfb_display

pytestmark = pytest.mark.desktop
ROOT = Path(__file__).resolve().parents[3]
CHILD = """
import json, sys, time, tempfile, pathlib
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from agent.attended import AttendedController, FlowCache
from agent.runtime import AgentConfig, AgentRuntime
from agent.tray import TrayApp
app = QApplication([])
deadline = time.monotonic() + float(sys.argv[1])
while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
    app.processEvents(); time.sleep(0.05)
home = pathlib.Path(tempfile.mkdtemp())
runtime = AgentRuntime(AgentConfig(url="http://127.0.0.1:9", key="k", name="desk", home=home / "agent"))
tray = TrayApp(runtime, AttendedController(runtime, FlowCache(home / "flows"), user_id=None))
for _ in range(20):
    app.processEvents(); time.sleep(0.02)
print(json.dumps({"available": QSystemTrayIcon.isSystemTrayAvailable(),
                  "icon": tray.icon is not None and tray.icon.isVisible(),
                  "window": tray.window is not None and tray.window.isVisible(),
                  "tooltip": tray.icon.toolTip() if tray.icon is not None else None}))
tray.close(); runtime.outbox.close()
"""


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    from Xlib import display as xdisplay

    with xvfb_display(800, 600) as name:
        keeper = xdisplay.Display(name)  # Xvfb resets when its last client leaves
        try:
            yield name
        finally:
            keeper.close()


def _child(display: str, wait_s: float) -> dict[str, object]:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(wait_s)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_without_a_tray_host_the_fallback_window_shows(display: str) -> None:
    assert _child(display, 0.2) == {"available": False, "icon": False, "window": True, "tooltip": None}


def test_with_trayer_as_the_tray_host_the_icon_shows_there(display: str) -> None:
    binary = shutil.which("trayer")
    if binary is None:
        pytest.fail("trayer is not installed: run installer/system-deps.sh (package trayer)")
    host = subprocess.Popen(
        [binary, "--edge", "top", "--align", "right"],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        result = _child(display, 10)
        assert result["available"] is True
        assert result["icon"] is True
        assert result["window"] is False
        assert str(result["tooltip"]).startswith("RPA agent — Offline")
    finally:
        host.terminate()
        host.wait(10)
