"""A real `rpa tray` process killed with SIGKILL during a run: the hotkey (sent by xdotool under
Xvfb) starts a flow of file appends; the process is killed mid-run and started again; the run
resumes from its journal in the outbox and ends, and no step the journal had as finished before
the kill runs again (each wrote its line once). The orchestrator is unreachable throughout: the
run is reported later, as the docs say."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.attended import FlowCache
from agent.keystore import AgentIdentity, save_identity
from agent.outbox import Outbox
from tests.xvfb import xvfb_display

pytestmark = pytest.mark.desktop
ROOT = Path(__file__).resolve().parents[3]
HOTKEY = "Ctrl+Alt+Shift+K"
STEPS = 8


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is not installed: run installer/system-deps.sh (package xdotool)")
    from Xlib import display as xdisplay

    with xvfb_display(640, 480) as name:
        keeper = xdisplay.Display(name)  # Xvfb resets when its last client leaves
        try:
            yield name
        finally:
            keeper.close()


def _flow(progress: Path) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = []
    for i in range(STEPS):
        text = {"path": str(progress), "text": f"w{i}\n", "mode": "append"}
        nodes.append({"id": f"w{i}", "type": "files.write_text", "params": text})
        nodes.append({"id": f"p{i}", "type": "core.wait", "params": {"seconds": 0.25}})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"schema": "rpa.flow/1", "name": "Appends", "nodes": nodes, "edges": edges, "settings": {"hotkey": HOTKEY}}


def _tray(home: Path, key_file: Path, display: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RPA_AGENT_HOME": str(home),
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(home.parent / "config"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "cli", "tray", "--key-file", str(key_file), "--user-id", str(uuid.uuid4())]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def _lines(progress: Path) -> list[str]:
    return progress.read_text().split() if progress.exists() else []


def _wait(predicate: Any, within: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the tray said:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def test_a_tray_killed_during_a_run_resumes_it_when_started_again(tmp_path: Path, display: str) -> None:
    home, progress, log = tmp_path / "agent", tmp_path / "progress.txt", tmp_path / "tray.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    key_file = tmp_path / "agent.key"
    identity = AgentIdentity(url=url, agent_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()), name="desk-7")
    save_identity(identity, "rpa_ak_" + "k" * 40, key_file=key_file, home=home)
    FlowCache(home / "flows").put(str(uuid.uuid4()), 1, _flow(progress))

    first = _tray(home, key_file, display, log)
    try:

        def pressed_and_running() -> bool:
            if len(_lines(progress)) >= 3:
                return True
            if not _lines(progress):  # the grab may not be in place yet: press again
                subprocess.run(
                    ["xdotool", "key", "ctrl+alt+shift+k"], env={**os.environ, "DISPLAY": display}, timeout=10
                )
                time.sleep(0.3)
            return False

        _wait(pressed_and_running, 60, "the hotkey run's third step", log)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
    before = _lines(progress)
    assert len(before) < STEPS, "the run ended before the kill"
    with Outbox(home / "outbox.db") as outbox:
        (record,) = outbox.pending_jobs()
        execution_id = record.execution_id
        assert not record.finished
        done = {e.path for e in outbox.events(execution_id) if e.type == "node.succeeded"}
    assert {"w0", "p0", "w1"} <= done

    second = _tray(home, key_file, display, log)
    try:
        _wait(lambda: f"w{STEPS - 1}" in _lines(progress), 60, "the resumed run's last step", log)

        def ended() -> bool:
            with Outbox(home / "outbox.db") as outbox:
                events = outbox.events(execution_id)
            return bool(events) and events[-1].type == "execution.finished"

        _wait(ended, 30, "the resumed run's end", log)
    finally:
        os.kill(second.pid, signal.SIGTERM)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(second.pid, signal.SIGKILL)
            second.wait(10)
    after = _lines(progress)
    assert after[: len(before)] == before
    assert sorted(set(after)) == sorted(f"w{i}" for i in range(STEPS))  # every step ran
    for node in done:
        if node.startswith("w"):
            assert after.count(node) == 1, f"{node} was finished before the kill and ran again: {after}"
    with Outbox(home / "outbox.db") as outbox:
        events = outbox.events(execution_id)
        assert events[-1].data["status"] == "succeeded"
        assert outbox.job(execution_id) is not None  # kept to report once the orchestrator is back
        assert outbox.job(execution_id).assignment["report"]["trigger"] == {"type": "hotkey", "hotkey": HOTKEY}
