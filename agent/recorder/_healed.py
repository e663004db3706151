"""Healed selectors journaled by runs, read back as fixes for the studio to offer.

When self-healing found an element whose selectors all failed, the step journaled a
`node.note` of kind `healed` (`agent/steps/browser/_healing.py`): the old selector, its
fallbacks, the new selector, the score. `read_fixes` reads those notes from a journal: the
SQLite journal `rpa run --journal` and the agent's outbox write, or a JSON export of events
(a list, or one event per line) with `type`, `path` and `data`.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["JournalReadError", "read_fixes"]

_NOTE = "node.note"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class JournalReadError(ValueError):
    """The file is not a journal this reader understands; the message says which file and why."""


def _sqlite_events(path: Path) -> list[tuple[str, str, str]]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute("SELECT type, path, data FROM events WHERE type = ? ORDER BY ts, seq", (_NOTE,))
            return [(str(t), str(p), str(d)) for t, p, d in rows]
    except sqlite3.Error as err:
        raise JournalReadError(f"{path}: not a journal database ({err})") from None


def _json_events(path: Path) -> list[tuple[str, str, str]]:
    text = path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(text)
        if isinstance(loaded, dict):  # {"events": [...]}, or a file of one event
            loaded = loaded.get("events", []) if "events" in loaded else [loaded]
        raw = loaded if isinstance(loaded, list) else []
    except json.JSONDecodeError:
        try:
            raw = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise JournalReadError(f"{path}: neither a journal database nor JSON events (line {err.lineno})") from None
    events = []
    for event in raw:
        if isinstance(event, dict) and event.get("type") == _NOTE:
            events.append((_NOTE, str(event.get("path", "")), json.dumps(event.get("data", {}))))
    return events


def read_fixes(path: Path) -> list[dict[str, Any]]:
    """The healed targets a journal holds, oldest first, one per node path and old selector.

    Returns:
        `[{"path", "node", "old", "fallbacks", "new", "score", "runner_up", "element", "screenshot"}]`;
        `node` is the node id (the last part of the path, loop indices removed).

    Raises:
        JournalReadError: the file cannot be read as a journal.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise JournalReadError(f"{path}: {err.strerror}") from None
    events = _sqlite_events(path) if magic == _SQLITE_MAGIC else _json_events(path)
    fixes: dict[tuple[str, str], dict[str, Any]] = {}
    for _type, node_path, data in events:
        note = json.loads(data)
        if not isinstance(note, dict) or note.get("kind") != "healed" or not note.get("new"):
            continue
        node = node_path.rsplit("/", 1)[-1].split("[", 1)[0]
        fixes[(node_path, str(note.get("old")))] = {
            "path": node_path,
            "node": node,
            "old": note.get("old"),
            "fallbacks": note.get("fallbacks", []),
            "new": note["new"],
            "score": note.get("score"),
            "runner_up": note.get("runner_up"),
            "element": note.get("element"),
            "screenshot": note.get("screenshot"),
        }
    return list(fixes.values())
