"""Where a session's state waits for a resume: a 0600 file in the agent's private folder.

After each completed browser step the session's storage state (cookies, local storage), the
active tab's URL and the options it was opened with are written here, keyed by execution and
session name. A resumed execution (a fresh process replaying the journal) finds no open session,
reads the file and reopens the session on that page with those cookies before its next step.

Why a private file and not the journal: the storage state holds login cookies. Journal events
travel to the orchestrator, are kept for months and are shown to users; encrypting them would
need a key every agent shares. The file stays on the agent, in `RPA_BROWSER_STATE_DIR` or
`<agent home>/browser-sessions` (a 0700 folder), each file 0600, written atomically; the journal
only carries a `browser.checkpoint` note naming the session and the file. The file is deleted
when the session is closed by the flow or its execution ends (kept when the host stops, so the
execution can resume), and files older than `MAX_AGE_S` are swept when a session opens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["MAX_AGE_S", "checkpoint_path", "delete_checkpoint", "read_checkpoint", "state_dir", "write_checkpoint"]

MAX_AGE_S = 7 * 24 * 3600
FORMAT = 1


def state_dir() -> Path:
    """The private folder of session checkpoints, created 0700."""
    configured = os.environ.get("RPA_BROWSER_STATE_DIR")
    if configured:
        folder = Path(configured).expanduser()
    else:
        from agent.keystore import agent_home

        folder = agent_home() / "browser-sessions"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        folder.chmod(0o700)
    return folder


def checkpoint_path(execution_id: str, session: str) -> Path:
    """The checkpoint file of one session of one execution (a hash: no ids in file names)."""
    digest = hashlib.sha256(f"{execution_id}\0{session}".encode()).hexdigest()[:40]
    return state_dir() / f"{digest}.json"


def write_checkpoint(path: Path, data: dict[str, Any]) -> None:
    """Replace the checkpoint atomically with a fresh 0600 file."""
    payload = json.dumps({"format": FORMAT, "saved_at": time.time(), **data}).encode()
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
    """Remove a checkpoint file (no error when absent)."""
    with contextlib.suppress(OSError):
        path.unlink()


def sweep_old(now: float | None = None) -> int:
    """Delete checkpoints older than `MAX_AGE_S`; returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    for item in state_dir().glob("*.json"):
        with contextlib.suppress(OSError):
            if now - item.stat().st_mtime > MAX_AGE_S:
                item.unlink()
                removed += 1
    return removed
