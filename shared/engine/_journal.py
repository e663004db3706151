"""Journals: where an execution's events are appended, and read back to resume.

`Journal` is the interface the engine writes to. `MemoryJournal` keeps events in a list (tests,
one-shot runs); `SqliteJournal` appends them to a SQLite file in WAL mode, one row per event,
keyed by (execution_id, seq), so a process killed at any point leaves a journal that `resume`
can fold. A batch (`append_many`) is one transaction: a step's success and the variables it set
land together or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from shared.engine._events import Event, make_event

EventSpec = tuple[str, str, dict[str, Any]]
"""(type, path, data) of an event still to be numbered."""

Listener = Callable[[Sequence[Event]], None]


class Journal(Protocol):
    """Append-only log of one execution."""

    execution_id: str

    def append_many(self, events: Sequence[EventSpec]) -> list[Event]:
        """Number and store `events` atomically; return them."""
        ...

    def read(self, after_seq: int = 0) -> list[Event]:
        """Stored events with `seq > after_seq`, in order."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class _ListenerMixin:
    _listeners: list[Listener]

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with each batch right after it is stored."""
        self._listeners.append(listener)

    def _notify(self, batch: Sequence[Event]) -> None:
        for listener in self._listeners:
            listener(batch)


class MemoryJournal(_ListenerMixin):
    """Events in a list; nothing survives the process."""

    def __init__(self, execution_id: str, events: Iterable[Event] = ()) -> None:
        self.execution_id = execution_id
        self._events: list[Event] = list(events)
        self._listeners = []

    def append_many(self, events: Sequence[EventSpec]) -> list[Event]:
        seq = self._events[-1].seq if self._events else 0
        now = time.time()
        batch = [make_event(seq + i, kind, path, data, now) for i, (kind, path, data) in enumerate(events, 1)]
        self._events.extend(batch)
        self._notify(batch)
        return batch

    def read(self, after_seq: int = 0) -> list[Event]:
        if after_seq <= 0:
            return list(self._events)
        return [e for e in self._events if e.seq > after_seq]

    def close(self) -> None:
        pass


EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    path TEXT NOT NULL,
    data TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
"""
"""The journal table: one row per event, keyed by (execution_id, seq). The agent's outbox uses it too."""


class SqliteJournal(_ListenerMixin):
    """A durable journal in a SQLite file (WAL).

    Args:
        path: the database file; created when missing. One file may hold many executions.
        execution_id: the execution whose events this journal reads and writes.
        synchronous: SQLite's `synchronous` pragma. `NORMAL` (the default) survives a killed
            process; `FULL` also survives a power cut, at the cost of an fsync per batch.
    """

    def __init__(self, path: str | Path, execution_id: str, *, synchronous: str = "NORMAL") -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.execution_id = execution_id
        self.path = Path(path)
        self._listeners = []
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(EVENTS_SCHEMA)
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE execution_id = ?", (execution_id,)
        ).fetchone()
        self._seq: int = row[0]

    @staticmethod
    def executions(path: str | Path) -> list[tuple[str, bool]]:
        """(execution_id, finished) of every execution in a journal file, oldest first."""
        if not Path(path).exists():
            return []
        db = sqlite3.connect(path)
        try:
            db.executescript(EVENTS_SCHEMA)
            rows = db.execute(
                "SELECT execution_id, MIN(ts), SUM(type = 'execution.finished') FROM events "
                "GROUP BY execution_id ORDER BY MIN(ts)"
            ).fetchall()
        finally:
            db.close()
        return [(r[0], bool(r[2])) for r in rows]

    def append_many(self, events: Sequence[EventSpec]) -> list[Event]:
        if not events:
            return []
        now = time.time()
        with self._lock:
            start = self._seq
            batch = [make_event(start + i, kind, path, data, now) for i, (kind, path, data) in enumerate(events, 1)]
            rows = [(self.execution_id, e.seq, e.type, e.path, _dumps(e.data), e.ts) for e in batch]
            if len(rows) == 1:
                self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows[0])
            else:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            self._seq = batch[-1].seq
        self._notify(batch)
        return batch

    def read(self, after_seq: int = 0) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, type, path, data, ts FROM events WHERE execution_id = ? AND seq > ? ORDER BY seq",
                (self.execution_id, after_seq),
            ).fetchall()
        return [Event(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_dumps: Callable[[dict[str, Any]], str] = json.JSONEncoder(
    separators=(",", ":"), default=str, ensure_ascii=False
).encode
"""An event's data as stored. One encoder for every event (`json.dumps` with options builds one
per call); default=str keeps an odd value (a datetime, a Path) from failing a whole execution."""
