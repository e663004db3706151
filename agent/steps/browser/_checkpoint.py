"""A browser session's checkpoint: its storage state, its tabs and the options it was opened with.

After each completed browser step the session's storage state (cookies, local storage), the URL
of every tab, which one is active, and the options it was opened with are written as the
execution's checkpoint of `browser:<name>` (`agent/session_checkpoints.py`: a 0600 file on the
agent, sent sealed to the orchestrator before the step's end is reported). A resumed execution,
on this agent or on another one, finds no open session, reads the checkpoint and reopens the
session with those cookies and tabs before its next step.

Why not the journal: the storage state holds login cookies. Journal events are kept for months
and shown to users; the journal only carries a `browser.checkpoint` note naming the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent import session_checkpoints as store

__all__ = ["MAX_AGE_S", "checkpoint_path", "delete_checkpoint", "read_checkpoint", "sweep_old", "write_checkpoint"]

MAX_AGE_S = store.MAX_AGE_S


def key(session: str) -> str:
    """The checkpoint key of a browser session."""
    return f"browser:{session}"


def checkpoint_path(execution_id: str, session: str) -> Path:
    """The checkpoint file of one browser session of one execution."""
    return store.checkpoint_path(execution_id, key(session))


def write_checkpoint(path: Path, data: dict[str, Any]) -> None:
    """Replace the checkpoint of the session `data["session"]` atomically."""
    store.write_checkpoint(path, key(data["session"]), data)


read_checkpoint = store.read_checkpoint
delete_checkpoint = store.delete_checkpoint
sweep_old = store.sweep_old
