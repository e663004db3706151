"""Fixtures of the desktop step tests: a real Xvfb display and a real Tk window on it.

- `xvfb` (session): starts `Xvfb -displayfd` (it picks a free display number itself, so parallel
  suites never collide) at 1280x800x24 with `-nolisten tcp`, points `DISPLAY` at it for the whole
  session (pyautogui reads `DISPLAY` once, at import) and stops it by PID. A missing Xvfb fails
  the tests with the fix; it never skips them.
- `form_app`: `form_app.py` started as a subprocess on that display; `state()` reads what the
  window really received. Stopped by PID after each test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.xvfb import xvfb_display

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1280, 800


@dataclass
class Display:
    name: str
    width: int
    height: int


@pytest.fixture(scope="session")
def xvfb() -> Iterator[Display]:
    with xvfb_display(WIDTH, HEIGHT) as name:
        yield from _pointed_at(name)


def _pointed_at(name: str) -> Iterator[Display]:
    # Only DISPLAY: the steps grab the screen with Pillow's XCB grab themselves, so they need no
    # XDG_SESSION_TYPE=x11 (which pyscreeze would want) and no scrot.
    saved = {key: os.environ.get(key) for key in ("DISPLAY", "XDG_SESSION_TYPE")}
    os.environ.pop("XDG_SESSION_TYPE", None)
    os.environ["DISPLAY"] = name
    try:
        yield Display(name, WIDTH, HEIGHT)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class FormApp:
    """The running Tk window: its state file, its button picture, and its process."""

    title = "RPA Test Form"

    def __init__(self, folder: Path) -> None:
        self.state_file = folder / "state.json"
        self.button_png = folder / "button.png"
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "form_app.py"), str(self.state_file), str(self.button_png)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while not self.state_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the Tk form app exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError("the Tk form app did not start within 15 s")
            time.sleep(0.05)

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())  # type: ignore[no-any-return]

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """The state once `predicate(state)` holds; fails with the last state after `timeout`."""
        deadline = time.monotonic() + timeout
        state = self.state()
        while not predicate(state):
            if time.monotonic() > deadline:
                pytest.fail(f"the form never reached the expected state; last: {state}")
            time.sleep(0.05)
            state = self.state()
        return state

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def form_app(xvfb: Display, tmp_path: Path) -> Iterator[FormApp]:
    app = FormApp(tmp_path)
    try:
        yield app
    finally:
        app.stop()
