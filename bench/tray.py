#!/usr/bin/env python3
"""Attended agent benchmark: hotkey press → first step started, and the idle cost of hotkeys.

    .venv/bin/python bench/tray.py [--presses 50] [--no-online] [--out bench/results/tray.json]

It starts its own Xvfb (`-displayfd`, a free display) and, in the same run:

- offline: the agent runtime with no orchestrator; `xdotool key ctrl+alt+shift+F5` grabs through
  `agent.attended.hotkeys` (XGrabKey), the controller starts the cached flow, and the time from
  just before xdotool is spawned to the first step's `node.started` journal event is taken;
- online: the same with the runtime connected to a real `rpa orchestrator` process (the run is
  reported and recorded meanwhile);
- peer: pynput's `GlobalHotKeys` listener (XRecord; it only listens) on its own combination, press
  → callback, against ours press → callback in the same run (pynput is a bench peer,
  `bench/requirements-peers.txt`; LGPL-3.0). The issue names no peer for the full path.
- idle: CPU seconds and RSS of this process over 10 s with the hotkeys registered and the runtime
  running (offline, reconnecting with its backoff).
- idle processes: a real `rpa tray` process (Qt on Xvfb through xcb, the fallback window, hotkeys
  grabbed, the runtime reconnecting) and, side by side as the peer, a headless `rpa agent` process
  with the same identity kind and cached flow; after `--settle` seconds, each one's CPU (from
  /proc/<pid>/stat) over `--idle-seconds` and its RSS, and the ratio tray / headless.

Each latency row has p50 and p95 in milliseconds over `presses` presses; the target is p95 < 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.attended import AttendedController, FlowCache  # noqa: E402
from agent.attended.hotkeys import Hotkeys  # noqa: E402
from agent.attended.hotkeys._x11 import X11Hotkeys  # noqa: E402
from agent.runtime import AgentConfig, AgentRuntime  # noqa: E402

FLOW = {
    "schema": "rpa.flow/1",
    "name": "Hotkey bench",
    "settings": {"hotkey": "Ctrl+Alt+Shift+F5"},
    "nodes": [{"id": "first", "type": "core.wait", "params": {"seconds": 0}}],
}
WORKFLOW_ID = "6a1e0c4d-2b3f-4a5e-8c7d-9e0f1a2b3c4d"


@contextmanager
def _xvfb() -> Iterator[str]:
    from Xlib import display as xdisplay

    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        name = ":" + pipe.readline().strip()
    keeper = xdisplay.Display(name)  # Xvfb resets (refusing clients) whenever its last one leaves
    try:
        yield name
    finally:
        keeper.close()
        xvfb.terminate()
        xvfb.wait()


def _press(display: str, keys: str) -> float:
    """Spawn xdotool for `keys`; returns the wall time just before the spawn."""
    started = time.time()
    subprocess.run(["xdotool", "key", keys], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)
    return started


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": round(p95 * 1000, 1), "n": len(values)}


class _RunClock:
    """When each run started and when its first step started, read from its journal as it is
    written (online, the outbox forgets a run's events once the orchestrator acknowledged them)."""

    def __init__(self, controller: AttendedController) -> None:
        self.controller = controller
        self.started_at: dict[str, float] = {}
        self.first: dict[str, float] = {}
        controller.subscribe(self._on_change)

    def _on_change(self, controller: AttendedController) -> None:
        run = controller.current
        if run is None or run.execution_id in self.started_at:
            return
        self.started_at[run.execution_id] = time.time()
        journal = controller.runtime.jobs.journals.get(run.execution_id)
        if journal is not None:
            journal.subscribe(functools.partial(self._seen, run.execution_id))

    def _seen(self, execution_id: str, batch: list[Any]) -> None:
        for event in batch:
            if event.type == "node.started":
                self.first.setdefault(execution_id, event.ts)

    async def next_run(self, before: Any, deadline: float) -> Any:
        while self.controller.current is before or self.controller.current is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the hotkey did not start a run within 10 s")
            await asyncio.sleep(0.001)
        return self.controller.current

    async def first_step(self, execution_id: str, deadline: float) -> float:
        while execution_id not in self.first:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the run {execution_id} started no step within 10 s")
            await asyncio.sleep(0.001)
        return self.first[execution_id]


async def _first_step_latencies(controller: AttendedController, display: str, presses: int) -> dict[str, Any]:
    clock = _RunClock(controller)
    to_step: list[float] = []
    to_callback: list[float] = []
    for press in range(presses + 1):  # the first press warms up (imports, first run): not counted
        before = controller.current
        t0 = await asyncio.to_thread(_press, display, "ctrl+alt+shift+F5")
        deadline = time.monotonic() + 10
        run = await clock.next_run(before, deadline)
        first = await clock.first_step(run.execution_id, deadline)
        if press:
            to_step.append(first - t0)
            to_callback.append(clock.started_at[run.execution_id] - t0)
        await asyncio.wait_for(run.wait(), 10)
    return {"first_step": _percentiles(to_step), "run_started": _percentiles(to_callback)}


def _pynput_latencies(display: str, presses: int) -> dict[str, Any] | str:
    os.environ["DISPLAY"] = display
    try:
        from pynput import keyboard
    except Exception as exc:  # not installed, or no usable backend
        return f"pynput not available ({type(exc).__name__}): pip install -r bench/requirements-peers.txt"
    fired = threading.Event()
    seen: list[float] = []

    def on_press() -> None:
        seen.append(time.time())
        fired.set()

    listener = keyboard.GlobalHotKeys({"<ctrl>+<alt>+<shift>+<f6>": on_press})
    listener.start()
    listener.wait()
    times: list[float] = []
    try:
        for _ in range(presses):
            fired.clear()
            t0 = _press(display, "ctrl+alt+shift+F6")
            if not fired.wait(5):
                return "pynput did not see the press within 5 s"
            times.append(seen[-1] - t0)
    finally:
        listener.stop()
        listener.join(5)
    return {"callback": _percentiles(times)}


async def _idle(seconds: float = 10.0) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic()
    await asyncio.sleep(seconds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss_mb = _rss_mb()
    return {"cpu_percent_of_a_core": round(100 * cpu / (time.monotonic() - wall), 2), "rss_mb": round(rss_mb, 1)}


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _closed_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there once closed


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_of(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _spawn(kind: str, home: Path, display: str, url: str) -> subprocess.Popen[bytes]:
    import uuid

    from agent.keystore import AgentIdentity, save_identity

    folder = home / kind
    key_file = folder / "agent.key"
    identity = AgentIdentity(url=url, agent_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()), name=f"bench-{kind}")
    save_identity(identity, "rpa_ak_" + "b" * 40, key_file=key_file, home=folder)
    FlowCache(folder / "flows").put(WORKFLOW_ID, 1, FLOW)
    env = {**os.environ, "RPA_AGENT_HOME": str(folder), "PYTHONPATH": str(ROOT), "HOME": str(folder)}
    if kind == "tray":
        env |= {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(folder / "config")}
        command = [sys.executable, "-m", "cli", "tray", "--key-file", str(key_file)]
    else:
        command = [sys.executable, "-m", "cli", "agent", "--key-file", str(key_file)]
    with (folder / "out.log").open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def _idle_processes(display: str, home: Path, seconds: float, settle: float) -> dict[str, Any]:
    """Idle CPU and RSS of a real tray process and of a headless agent process, side by side."""
    url = _closed_url()
    processes = {kind: _spawn(kind, home / "idle", display, url) for kind in ("tray", "agent")}
    try:
        time.sleep(settle)  # imports done, window shown, hotkeys grabbed
        for kind, process in processes.items():
            if process.poll() is not None:
                said = (home / "idle" / kind / "out.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the {kind} process ended early ({process.returncode}):\n{said}")
        before = {kind: _cpu_s(p.pid) for kind, p in processes.items()}
        wall = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - wall
        rows: dict[str, Any] = {
            kind: {
                "cpu_percent_of_a_core": round(100 * (_cpu_s(p.pid) - before[kind]) / elapsed, 2),
                "rss_mb": round(_rss_of(p.pid), 1),
            }
            for kind, p in processes.items()
        }
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
    tray, agent = rows["tray"], rows["agent"]
    rows["ratio"] = {
        "rss": round(tray["rss_mb"] / agent["rss_mb"], 2),
        "cpu": round(tray["cpu_percent_of_a_core"] / agent["cpu_percent_of_a_core"], 2)
        if agent["cpu_percent_of_a_core"]
        else None,
    }
    rows["seconds"] = seconds
    return rows


def _controller(home: Path, display: str, url: str, key: str) -> AttendedController:
    cache = FlowCache(home / "flows")
    cache.put(WORKFLOW_ID, 1, FLOW)
    runtime = AgentRuntime(AgentConfig(url=url, key=key, name="bench-desk", home=home / "agent"))
    return AttendedController(runtime, cache, user_id=None, hotkeys=Hotkeys(X11Hotkeys(display)))


async def _offline(display: str, presses: int, home: Path) -> dict[str, Any]:
    controller = _controller(home / "offline", display, "http://127.0.0.1:9", "rpa_ak_0_none")
    controller.bind()
    controller.runtime.start()
    try:
        result = await _first_step_latencies(controller, display, presses)
        result["idle"] = await _idle()
        return result
    finally:
        controller.close()
        await controller.runtime.stop()


async def _online(display: str, presses: int, home: Path) -> dict[str, Any]:
    from cli.supervise import LocalAgent, LocalOrchestrator

    orchestrator = LocalOrchestrator(home / "orchestrator", env={"RPA_ENVIRONMENT": "test", "HOME": str(home)})
    await asyncio.to_thread(orchestrator.start)
    try:
        await asyncio.to_thread(orchestrator.create_owner, "owner@example.com", "Hotkeys-Attended-42-Robots!", "Bench")
        workflow_id = await asyncio.to_thread(orchestrator.publish, FLOW)
        me = await asyncio.to_thread(orchestrator.client.request, "GET", "/auth/me")
        enrolled = await asyncio.to_thread(LocalAgent, orchestrator, home / "enrolled", "bench-desk")
        key = enrolled.key_file.read_text(encoding="utf-8").strip()
        controller = _controller(home / "online", display, orchestrator.url, key)
        controller.cache.put(workflow_id, 1, FLOW)
        (controller.cache.folder / f"{WORKFLOW_ID}.json").unlink()
        controller.user_id = str(me["user_id"])
        controller.bind()
        controller.runtime.start()
        await asyncio.wait_for(controller.runtime.connected.wait(), 30)
        try:
            return await _first_step_latencies(controller, display, presses)
        finally:
            controller.close()
            await controller.runtime.stop()
    finally:
        await asyncio.to_thread(orchestrator.stop)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with _xvfb() as display, tempfile.TemporaryDirectory(prefix="rpa-bench-tray-") as tmp:
        home = Path(tmp)
        rows: dict[str, Any] = {}
        if args.offline:
            rows["offline"] = await _offline(display, args.presses, home)
        if args.online:
            rows["online"] = await _online(display, args.presses, home)
        rows["pynput"] = await asyncio.to_thread(_pynput_latencies, display, args.presses)
        if args.idle_processes:
            rows["idle_processes"] = await asyncio.to_thread(
                _idle_processes, display, home, args.idle_seconds, args.settle
            )
        return rows


def _print(rows: dict[str, Any]) -> None:
    print(f"{'case':<28}{'p50 ms':>10}{'p95 ms':>10}{'n':>6}")
    for case in ("offline", "online"):
        if case in rows:
            for what in ("first_step", "run_started"):
                row = rows[case][what]
                print(f"{case + ' ' + what:<28}{row['p50_ms']:>10}{row['p95_ms']:>10}{row['n']:>6}")
    peer = rows["pynput"]
    if isinstance(peer, dict):
        row = peer["callback"]
        print(f"{'pynput callback':<28}{row['p50_ms']:>10}{row['p95_ms']:>10}{row['n']:>6}")
        ours = rows["offline"]["run_started"]["p50_ms"]
        print(f"ratio pynput callback / ours run started (p50): {row['p50_ms'] / ours:.2f}")
    else:
        print(f"pynput: {peer}")
    if "offline" in rows:
        idle = rows["offline"]["idle"]
        print(f"idle with hotkeys registered: {idle['cpu_percent_of_a_core']} % of a core, RSS {idle['rss_mb']} MB")
    if "idle_processes" in rows:
        processes = rows["idle_processes"]
        print(f"{'idle process':<28}{'CPU % core':>12}{'RSS MB':>10}")
        for kind, label in (("tray", "rpa tray (Qt, xcb)"), ("agent", "rpa agent (headless)")):
            row = processes[kind]
            print(f"{label:<28}{row['cpu_percent_of_a_core']:>12}{row['rss_mb']:>10}")
        ratio = processes["ratio"]
        print(f"ratio tray / headless agent: RSS {ratio['rss']}, CPU {ratio['cpu']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--no-online", dest="online", action="store_false")
    parser.add_argument("--no-offline", dest="offline", action="store_false")
    parser.add_argument("--no-idle-processes", dest="idle_processes", action="store_false")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="How long the idle processes are measured.")
    parser.add_argument("--settle", type=float, default=15.0, help="Seconds the processes get to start first.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tray.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows = asyncio.run(main_async(args))
    rows["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "presses": args.presses}
    _print(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
