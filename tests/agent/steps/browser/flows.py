"""Flow documents and process helpers shared by the browser lifecycle and resume tests."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

RPA = str(Path(sys.executable).with_name("rpa"))


def flow(name: str, nodes: list[dict[str, Any]], outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A linear flow: each node runs after the one before it."""
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "requires": ["browser"],
        "nodes": nodes,
        "edges": edges,
        "outputs": outputs or {},
    }


def write_flow(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / "flow.json"
    path.write_text(json.dumps(document))
    return path


def start_rpa(
    args: list[str], folder: Path, state_dir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`rpa <args>` in its own process group, checkpoints in `state_dir`."""
    env = {**os.environ, "RPA_BROWSER_STATE_DIR": str(state_dir), **(extra_env or {})}
    return subprocess.Popen(
        [RPA, *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def journal_events(path: Path) -> list[tuple[str, str]]:
    """(type, path) of every event in a journal file, oldest first; [] before it exists."""
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return [(row[0], row[1]) for row in db.execute("SELECT type, path FROM events ORDER BY seq")]
    except sqlite3.OperationalError:
        return []


def wait_for_event(path: Path, kind: str, node: str, process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """Wait until the journal holds `kind` for `node` (fails early when the process ended)."""
    deadline = time.monotonic() + timeout_s
    while (kind, node) not in journal_events(path):
        if process.poll() is not None:
            raise AssertionError(
                f"rpa ended early ({process.returncode}): {process.stderr.read() if process.stderr else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} for {node} within {timeout_s} s: {journal_events(path)}")
        time.sleep(0.1)


def chromium_pids(root_pid: int) -> set[int]:
    """Pids of the Chromium processes below `root_pid`."""
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    found = set()
    for child in children:
        try:
            if "chrom" in child.name().lower():
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids among `pids` still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.add(pid)
        except psutil.NoSuchProcess:
            continue
    return running


def wait_gone(pids: set[int], timeout_s: float = 40) -> set[int]:
    """Wait until none of `pids` runs; returns those still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
