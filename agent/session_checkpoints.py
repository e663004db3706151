"""Where the state of a resumable session waits for a resume: private files, one folder per execution.

A session kept open across the steps of one execution (a browser's cookies, storage and tabs) is
written here after each completed step, keyed by its family and name (`browser:main`). Two
readers use the files:

- the step that needs the session on a resumed execution (a fresh process replaying the
  journal) reopens it from its file;
- the runtime's sender (`agent/runtime/_sender.py`) sends each new or changed file to the
  orchestrator as a `session.checkpoint` BEFORE the journal events appended after it. A step's
  file is written before the step returns, so before its `node.succeeded` exists: whenever the
  orchestrator's journal shows a step done, it already holds that step's state (or a later one),
  and an agent killed with `kill -9` right after the step loses nothing another agent needs. A
  file outlives the process, so an agent that restarts sends what it had not sent.

When the execution is given to another agent, its `job.assign` carries the orchestrator's copy
and `seed` writes it here (only where no local file exists); the step restores from it the same
way. The files are deleted when the session closes and when the execution ends or moves away;
files older than `MAX_AGE_S` are swept.

Why files and not the outbox database: a deleted SQLite row lingers in free pages and in the WAL,
and the state holds login cookies; a deleted file is gone from the agent's home. The folder is
`RPA_BROWSER_STATE_DIR` or `<agent home>/browser-sessions`, 0700; each file 0600, written
atomically; names are hashes (no execution ids or session names in file names).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT",
    "MAX_AGE_S",
    "MAX_SEND_BYTES",
    "Stamp",
    "checkpoint_path",
    "delete_checkpoint",
    "delete_execution",
    "execution_dir",
    "read_checkpoint",
    "seed",
    "stamps",
    "state_dir",
    "sweep_old",
    "write_checkpoint",
]

MAX_AGE_S = 7 * 24 * 3600
FORMAT = 1
MAX_SEND_BYTES = 1024 * 1024
"""A checkpoint larger than this stays local (a resume elsewhere then cannot restore it)."""


def state_dir() -> Path:
    """The private folder of session checkpoints, created 0700."""
    folder = _root()
    _private(folder)
    return folder


def _root() -> Path:
    """The folder of session checkpoints, not created: what only reads or deletes needs no folder
    made (the runtime looks for an execution's files after each of its events)."""
    configured = os.environ.get("RPA_BROWSER_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    from agent.keystore import agent_home

    return agent_home() / "browser-sessions"


def _private(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        folder.chmod(0o700)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def execution_dir(execution_id: str) -> Path:
    """The folder of one execution's checkpoints (neither it nor `state_dir` is created)."""
    return _root() / _digest(execution_id)


def checkpoint_path(execution_id: str, key: str) -> Path:
    """The checkpoint file of one session (`browser:main`) of one execution (`state_dir` created)."""
    return state_dir() / _digest(execution_id) / f"{_digest(key)}.json"


def write_checkpoint(path: Path, key: str, data: dict[str, Any]) -> None:
    """Replace the checkpoint atomically with a fresh 0600 file."""
    _private(path.parent)
    payload = json.dumps({**data, "format": FORMAT, "key": key, "saved_at": time.time()}).encode()
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
    finally:
        os.close(fd)
    os.replace(temp, path)


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def delete_checkpoint(path: Path) -> None:
    """Remove a checkpoint file, and its execution's folder once empty (no error when absent)."""
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def delete_execution(execution_id: str) -> None:
    """Remove every checkpoint of an execution (it ended, or moved to another agent)."""
    shutil.rmtree(execution_dir(execution_id), ignore_errors=True)


def seed(execution_id: str, sessions: dict[str, dict[str, Any]]) -> int:
    """Write the checkpoints a `job.assign` carries where no local file exists; how many.

    A local file is this agent's own, written after the orchestrator's copy left it: never older.
    """
    written = 0
    for key, data in sessions.items():
        path = checkpoint_path(execution_id, key)
        if not path.exists() and data.get("format") == FORMAT:
            write_checkpoint(path, key, data)
            written += 1
    return written


@dataclass(frozen=True)
class Stamp:
    """What tells one version of a checkpoint file from another (a replace makes a new inode)."""

    path: Path
    inode: int
    mtime_ns: int
    size: int


def stamps(execution_id: str, folder: Path | None = None) -> dict[Path, Stamp]:
    """The checkpoint files of an execution now, by path (cheap: one directory listing).

    Args:
        execution_id: the execution.
        folder: its `execution_dir`, when the caller kept it (naming it hashes the id).
    """
    found: dict[Path, Stamp] = {}
    with contextlib.suppress(OSError), os.scandir(folder or execution_dir(execution_id)) as entries:
        for entry in entries:
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                with contextlib.suppress(OSError):
                    info = entry.stat()
                    path = Path(entry.path)
                    found[path] = Stamp(path, info.st_ino, info.st_mtime_ns, info.st_size)
    return found


def sweep_old(now: float | None = None) -> int:
    """Delete checkpoints older than `MAX_AGE_S`; returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    folder = state_dir()
    for item in [*folder.glob("*/*.json"), *folder.glob("*.json")]:  # the second: the layout before folders
        with contextlib.suppress(OSError):
            if now - item.stat().st_mtime > MAX_AGE_S:
                delete_checkpoint(item)
                removed += 1
    return removed
