"""The agent's outbox: its local journal and the queue of events still to be acknowledged.

One SQLite file (WAL, `synchronous=NORMAL`) holds every job the agent runs. The `events` table has
the engine's journal layout (the same as `shared.engine.SqliteJournal`), so the file is also a
journal the engine can read; the `jobs` table records, per execution, the attempt being run, the
assignment (without its secrets) and the highest sequence number the orchestrator acknowledged.

Life of a job::

    open_job(id, attempt, assignment, seed)  -> Journal for the engine (seed counts as acked)
    journal.append_many(...)                 -> events on disk, then listeners told (send them)
    unacked(id) / ack(id, seq)               -> resend what is unacknowledged after a reconnect
    reattempt(id, attempt)                   -> go on under a new attempt (a reclaim)
    mark_finished(id)                        -> the engine is done
    forget(id)                               -> once finished and fully acked

Events stay in the file after they are acknowledged: they are the journal a restarted agent
resumes from. `forget` removes them.

The jobs' records are also kept in memory: read from the file once when the outbox opens, then
changed after each committed write (the outbox is the only writer of its file while it is open).
The sender asks for every pending job each time it wakes, and the file was read and its JSON
decoded again each time: most of the agent's own work on short jobs. Events are read from the
file, never kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from agent._outbox_journal import (
    EventSpec,
    JobRecord,
    OutboxError,
    OutboxJournal,
    OutboxWriteError,
    StaleJournalError,
)
from shared.engine import EVENTS_SCHEMA, Event

__all__ = [
    "JobRecord",
    "Outbox",
    "OutboxError",
    "OutboxJournal",
    "OutboxWriteError",
    "StaleJournalError",
    "describe_outbox",
]

# The events table is the engine's journal layout (shared.engine._journal.EVENTS_SCHEMA);
# tests/agent/test_outbox.py reads an outbox file with SqliteJournal to pin it.
_SCHEMA = (
    EVENTS_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS jobs (
    execution_id TEXT PRIMARY KEY,
    attempt INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    assigned_json TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS health (name TEXT PRIMARY KEY, at REAL NOT NULL);
"""
)

_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)"

SECRETS_KEY = "secrets"  # the key of the job.assign payload that is never written to disk
_NEVER_STORED = frozenset({SECRETS_KEY, "sessions"})
"""Never written to disk: secret values, and the sessions' state (login cookies) of a resume."""


class Outbox:
    """The agent's durable journal and outbox in one SQLite file.

    Every method is thread-safe and quick (one small transaction), so it may be called from the
    event loop. A process killed right after `OutboxJournal.append_many` returned keeps the
    events: WAL with `synchronous=NORMAL` survives a killed process (not a power cut; pass
    `synchronous="FULL"` for that).

    Args:
        path: the database file; created when missing.
        synchronous: SQLite's `synchronous` pragma, `NORMAL` or `FULL`.

    Example::

        outbox = Outbox(home / "outbox.db")
        journal = outbox.open_job(execution_id, attempt, assignment, seed)
        journal.subscribe(lambda batch: wake_sender())   # called after the batch is on disk
        await engine.run(flow, inputs, journal=journal)
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        if not self.path.exists():  # private from the start; SQLite gives -wal and -shm the same mode
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._jobs: dict[str, JobRecord] = {r.execution_id: r for r in self._select_jobs()}
        """The jobs' records as the file holds them, least recently updated first (the file's
        `updated_at` order; a change moves a job to the end)."""
        self._pending: list[Callable[[], object]] = []
        """What to change in memory once the running transaction commits (`_on_commit`)."""
        self._renamed: dict[tuple[str, int], int] = {}
        """(execution id, attempt) → the attempt its job went on under (`reattempt`): a journal
        opened for the old attempt keeps writing."""

    # -- jobs ------------------------------------------------------------------------------------

    def open_job(
        self, execution_id: str, attempt: int, assignment: dict[str, Any], seed: Sequence[Event]
    ) -> OutboxJournal:
        """Record a job and return the journal the engine runs it with.

        Args:
            execution_id: the execution.
            attempt: the attempt number from job.assign.
            assignment: the job.assign payload; its `secrets` key is dropped, never stored.
            seed: the journal the orchestrator sent to resume from; stored as acknowledged.

        Returns:
            A journal over the job's events. When the job is already recorded with the same
            attempt (the agent restarted), its events are kept and `seed` acknowledges what the
            orchestrator already has (adding any seed event past the local ones). With another
            attempt, its events are replaced by `seed`, unless they extend it (the seed is exactly
            their beginning): then they are kept, go out under the new attempt, and the seed
            acknowledges its part.

        Raises:
            ValueError: the seed's sequence numbers are not positive and increasing.
        """
        _check_seed(seed)
        stored = json.dumps({k: v for k, v in assignment.items() if k not in _NEVER_STORED}, default=str)
        seed_last = seed[-1].seq if seed else 0
        now = time.time()
        with self._lock, self._transaction() as db:
            held = self._jobs.get(execution_id)
            if held is not None and held.attempt == attempt:
                # The orchestrator's events are the truth; it cannot normally hold more than we do.
                db.executemany(_INSERT_EVENT, [_row(execution_id, e) for e in seed if e.seq > held.last_seq])
                db.execute(
                    "UPDATE jobs SET acked_seq = MAX(acked_seq, ?), updated_at = ? WHERE execution_id = ?",
                    (seed_last, now, execution_id),
                )
                after = JobRecord(
                    execution_id,
                    attempt,
                    max(held.last_seq, seed_last),
                    max(held.acked_seq, seed_last),
                    held.finished,
                    held.assignment,
                )
            elif held is not None and self._extends(db, execution_id, seed):
                # The local journal is ahead of the orchestrator's (a run that went on, or ended,
                # while the orchestrator did not hear it): merge, never drop it for a rerun.
                db.execute(
                    "UPDATE jobs SET attempt = ?, acked_seq = ?, assigned_json = ?, updated_at = ? "
                    "WHERE execution_id = ?",
                    (attempt, seed_last, stored, now, execution_id),
                )
                self._renamed[(execution_id, held.attempt)] = attempt
                after = JobRecord(execution_id, attempt, held.last_seq, seed_last, held.finished, json.loads(stored))
            else:
                self._forget_renames(execution_id)
                db.execute("DELETE FROM events WHERE execution_id = ?", (execution_id,))
                db.execute(
                    "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, 0, ?)",
                    (execution_id, attempt, seed_last, stored, now),
                )
                db.executemany(_INSERT_EVENT, [_row(execution_id, e) for e in seed])
                after = JobRecord(execution_id, attempt, seed_last, seed_last, False, json.loads(stored))
            self._changed(after)
        return OutboxJournal(execution_id, attempt, append=self._append, read=self.events)

    def update_assignment(self, execution_id: str, changes: dict[str, Any]) -> bool:
        """Merge `changes` into a job's stored assignment (e.g. an attended run's report recorded).

        Returns:
            False when the outbox does not hold the job.
        """
        with self._lock, self._transaction() as db:
            held = self._jobs.get(execution_id)
            if held is None:
                return False
            stored = json.dumps(
                held.assignment | {k: v for k, v in changes.items() if k not in _NEVER_STORED}, default=str
            )
            db.execute("UPDATE jobs SET assigned_json = ? WHERE execution_id = ?", (stored, execution_id))
            # Not an update in `updated_at`'s sense: the job keeps its place.
            self._changed(dataclasses.replace(held, assignment=json.loads(stored)), touch=False)
        return True

    def job(self, execution_id: str) -> JobRecord | None:
        """The record of one job, or None when the outbox does not hold it.

        The record's `assignment` is shared with the outbox's own copy: read it, never change it.
        """
        with self._lock:
            return self._jobs.get(execution_id)

    def pending_jobs(self) -> list[JobRecord]:
        """Every job the outbox holds, oldest update first: running, with unacknowledged events,
        or finished with an end the orchestrator has not confirmed yet.

        This is what the agent reports in its hello and resends after a reconnect. A finished job
        stays until the orchestrator acknowledges its `job.finished` (then it is forgotten), so
        an end whose events were all acknowledged before the engine returned is still sent.
        """
        with self._lock:
            return list(self._jobs.values())

    def reattempt(self, execution_id: str, attempt: int) -> bool:
        """Go on with a job under a new attempt: the orchestrator requeued it while this agent was
        away and gave it back, as nobody else took it. Its events are kept; those not acknowledged
        yet go out under the new attempt, and the journal the engine writes through goes on.

        Returns:
            False when the outbox does not hold the job.

        Raises:
            ValueError: `attempt` is not above the job's (attempts only go up).
        """
        with self._lock:
            held = self._jobs.get(execution_id)
            if held is None:
                return False
            if attempt <= held.attempt:
                raise ValueError(
                    f"execution {execution_id} runs attempt {held.attempt}; it cannot go on under {attempt}"
                )
            with self._transaction() as db:
                db.execute(
                    "UPDATE jobs SET attempt = ?, updated_at = ? WHERE execution_id = ?",
                    (attempt, time.time(), execution_id),
                )
                self._renamed[(execution_id, held.attempt)] = attempt
                self._changed(dataclasses.replace(held, attempt=attempt))
        return True

    def mark_finished(self, execution_id: str) -> None:
        """Record that the engine finished the job (its events may still await an ack).

        Raises:
            KeyError: the outbox does not hold this job.
        """
        with self._lock:
            held = self._jobs.get(execution_id)
            if held is None:
                raise KeyError(execution_id)
            with self._transaction() as db:
                update = "UPDATE jobs SET finished = 1, updated_at = ? WHERE execution_id = ?"
                db.execute(update, (time.time(), execution_id))
                self._changed(dataclasses.replace(held, finished=True))

    def forget(self, execution_id: str, *, force: bool = False) -> None:
        """Delete a job and its events; a job the outbox does not hold is ignored.

        Args:
            execution_id: the execution.
            force: also delete unacknowledged events (the orchestrator said the execution moved
                to another agent). Without it, unacknowledged events make this an error.

        Raises:
            OutboxError: the job has unacknowledged events and `force` is not set.
        """
        with self._lock:
            held = self._jobs.get(execution_id)
            if held is not None and not force and not held.fully_acked:
                raise OutboxError(
                    f"execution {execution_id} has {held.last_seq - held.acked_seq} unacknowledged events "
                    f"(acked up to {held.acked_seq} of {held.last_seq}); pass force=True to drop them"
                )
            with self._transaction() as db:
                db.execute("DELETE FROM events WHERE execution_id = ?", (execution_id,))
                db.execute("DELETE FROM jobs WHERE execution_id = ?", (execution_id,))
                self._forget_renames(execution_id)
                self._on_commit(lambda: self._jobs.pop(execution_id, None))

    # -- events and acks -------------------------------------------------------------------------

    def unacked(self, execution_id: str, limit: int = 500) -> list[Event]:
        """Up to `limit` events after the acknowledged sequence number, in order.

        An execution the outbox does not hold has none.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        with self._lock:
            held = self._jobs.get(execution_id)
            return [] if held is None else self.events(execution_id, held.acked_seq, limit)

    def events(self, execution_id: str, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """Stored events of a job with `seq > after_seq`, acknowledged or not, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, type, path, data, ts FROM events WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (execution_id, after_seq, -1 if limit is None else limit),  # LIMIT -1: all
            ).fetchall()
        return [_event(r) for r in rows]

    def ack(self, execution_id: str, seq: int) -> int | None:
        """Record that the orchestrator stored every event up to `seq`.

        Acknowledgements only move forward: an older one changes nothing, and one beyond the
        last stored event is clamped to it.

        Returns:
            The acknowledged sequence number now recorded, or None when the outbox does not hold
            the job (a late duplicate ack after `forget`).
        """
        with self._lock:
            held = self._jobs.get(execution_id)
            if held is None:
                return None
            acked = max(held.acked_seq, min(seq, held.last_seq))
            if acked == held.acked_seq:  # nothing new (the answer to a job.finished): no write
                return acked
            with self._transaction() as db:
                db.execute(
                    "UPDATE jobs SET acked_seq = ?, updated_at = ? WHERE execution_id = ?",
                    (acked, time.time(), execution_id),
                )
                self._changed(dataclasses.replace(held, acked_seq=acked))
        return acked

    def last_seq(self, execution_id: str) -> int:
        """The highest stored sequence number of a job (0 when it has no events)."""
        with self._lock:
            held = self._jobs.get(execution_id)
            return 0 if held is None else held.last_seq

    def check_writable(self) -> str | None:
        """Write one small row for real (a committed transaction), to learn whether the outbox
        can be written now.

        Returns:
            None when it can; otherwise why not, in SQLite's words ("database or disk is full").
        """
        try:
            with self._transaction() as db:
                db.execute("INSERT OR REPLACE INTO health VALUES ('probe', ?)", (time.time(),))
        except OutboxWriteError as exc:
            return exc.cause
        return None

    def close(self) -> None:
        """Close the file; journals opened from this outbox stop working."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so MAX(seq) read inside stays true until COMMIT.
        # SQLite's errors (a full disk, a read-only file) become OutboxWriteError here, in one place.
        # The records in memory change only once the file did (`_on_commit`).
        with self._lock:
            self._pending.clear()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._pending.clear()
                    if self._db.in_transaction:  # SQLite may have rolled back by itself (disk full)
                        with suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                raise OutboxWriteError(self.path, str(exc)) from exc
            changes, self._pending = self._pending, []
            for change in changes:
                change()

    def _append(self, execution_id: str, attempt: int, specs: Sequence[EventSpec]) -> list[Event]:
        now = time.time()
        with self._lock:
            while (execution_id, attempt) in self._renamed:  # under the lock: a reattempt is never half seen
                attempt = self._renamed[(execution_id, attempt)]
            held = self._jobs.get(execution_id)
            if held is None or held.attempt != attempt:
                now_held = "forgotten" if held is None else f"reassigned to attempt {held.attempt}"
                raise StaleJournalError(f"execution {execution_id} attempt {attempt} was {now_held}")
            start = held.last_seq
            batch = [Event(start + i, kind, path, data, now) for i, (kind, path, data) in enumerate(specs, 1)]
            with self._transaction() as db:
                db.executemany(_INSERT_EVENT, [_row(execution_id, e) for e in batch])
                db.execute("UPDATE jobs SET updated_at = ? WHERE execution_id = ?", (now, execution_id))
                self._changed(dataclasses.replace(held, last_seq=batch[-1].seq))
        return batch

    @staticmethod
    def _extends(db: sqlite3.Connection, execution_id: str, seed: Sequence[Event]) -> bool:
        """Whether the stored events of a job are the seed followed by at least one more."""
        stored = db.execute(
            "SELECT seq, type, path, data FROM events WHERE execution_id = ? ORDER BY seq LIMIT ?",
            (execution_id, len(seed) + 1),
        ).fetchall()
        if len(stored) <= len(seed):
            return False
        return all(tuple(row) == _row(execution_id, event)[1:5] for row, event in zip(stored, seed, strict=False))

    def _forget_renames(self, execution_id: str) -> None:
        for key in [key for key in self._renamed if key[0] == execution_id]:
            del self._renamed[key]

    def _select_jobs(self) -> list[JobRecord]:
        """Every job's record as the file holds it, oldest update first."""
        rows = self._db.execute(
            "SELECT j.execution_id, j.attempt, "
            "(SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.execution_id = j.execution_id) AS last_seq, "
            "j.acked_seq, j.finished, j.assigned_json FROM jobs j ORDER BY j.updated_at",
        ).fetchall()
        return [JobRecord(r[0], r[1], r[2], r[3], bool(r[4]), json.loads(r[5])) for r in rows]

    def _changed(self, record: JobRecord, *, touch: bool = True) -> None:
        """Keep `record` in memory once the running transaction commits; `touch`: its
        `updated_at` was set, so it moves to the end of the order."""

        def apply() -> None:
            if touch:
                self._jobs.pop(record.execution_id, None)
            self._jobs[record.execution_id] = record

        self._on_commit(apply)

    def _on_commit(self, change: Callable[[], object]) -> None:
        """Run `change` right after the running transaction commits (never when it rolls back)."""
        self._pending.append(change)


def describe_outbox(path: Path) -> tuple[bool, str]:
    """Whether the outbox at `path` can be written now, and a sentence saying so (`rpa agent doctor`).

    Writes one small row for real, as the running agent does when it checks its outbox again.
    """
    import shutil

    if not path.exists():
        return True, f"none yet in {path.parent} (made on the first run)"
    try:
        with Outbox(path) as outbox:
            cause = outbox.check_writable()
            pending = len(outbox.pending_jobs())
    except (sqlite3.Error, OutboxError) as exc:
        cause = str(exc)
        pending = 0
    spare = shutil.disk_usage(path.parent).free / 1e6
    if cause is None:
        return True, f"{path} can be written ({pending} job(s) not yet acknowledged; {spare:.1f} MB free)"
    return False, (
        f"{path} cannot be written ({cause}; {spare:.1f} MB free): the agent hands its jobs back "
        "and takes none until it can; free space on that disk or make the file writable"
    )


def _check_seed(seed: Sequence[Event]) -> None:
    for earlier, later in itertools.pairwise([0, *(e.seq for e in seed)]):
        if later <= earlier:
            raise ValueError(f"seed sequence numbers must be positive and increasing: {later} after {earlier}")


def _row(execution_id: str, event: Event) -> tuple[Any, ...]:
    data = json.dumps(event.data, separators=(",", ":"), default=str, ensure_ascii=False)
    return (execution_id, event.seq, event.type, event.path, data, event.ts)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(row[0], row[1], row[2], json.loads(row[3]), row[4])
