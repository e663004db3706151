"""Fixtures of the recorder tests.

- `display` (session): a real Xvfb (`-displayfd` picks a free display number) for the headed
  Chromium the recorder opens; stopped by PID. A missing Xvfb fails the tests with the fix.
- `site` (session): the browser tests' loopback site (login `ann` / `s3cret`, `/account`).
- `start_recorder`: starts `python -m agent.recorder browser ...` as a child process with
  `--cdp-port 0`, so the test drives the recorder's own browser as a user would (real input
  events through CDP); stopped by PID at the end of the test.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.steps.browser.site import SiteServer
from tests.xvfb import xvfb_display

EVENT_TIMEOUT_S = 30.0


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    with xvfb_display(1280, 900) as name:
        yield name


@pytest.fixture(scope="session")
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


class RecorderProcess:
    """A running recorder: its events as they arrive, its stderr, commands to its stdin."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent.recorder", "browser", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.stderr = ""
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._readers = [threading.Thread(target=self._read, daemon=True), threading.Thread(target=self._read_stderr)]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            event = json.loads(line)  # every line on stdout is one JSON event
            self.events.append(event)
            self._queue.put(event)
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def wait_for(self, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The next event `match` accepts (earlier ones stay in `events`)."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if event is None:
                raise AssertionError(f"the recorder ended before {what}: {self.events} {self.stderr}")
            if match(event):
                return event
        raise AssertionError(f"no {what} within {EVENT_TIMEOUT_S} s: {self.events}")

    def stop(self) -> dict[str, Any]:
        self.send({"cmd": "stop"})
        stopped = self.wait_for(lambda e: e["event"] == "stopped", "stopped event")
        self.process.wait(30)
        return stopped

    def kill(self) -> None:
        """Stop the process (by PID) if it still runs, and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def start_recorder(display: str, tmp_path: Path) -> Iterator[Callable[..., RecorderProcess]]:
    started: list[RecorderProcess] = []
    env = {**os.environ, "DISPLAY": display, "RPA_BROWSER_STATE_DIR": str(tmp_path / "state")}

    def start(*args: str) -> RecorderProcess:
        recorder = RecorderProcess([*args, "--cdp-port", "0"], env)
        started.append(recorder)
        return recorder

    yield start
    for recorder in started:
        recorder.kill()
