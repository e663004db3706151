"""SQLite for the async engine without a thread hop per call.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker thread and wakes
the event loop when it is done. For the short statements the orchestrator makes, that hand-over
costs more CPU than SQLite itself, and a request makes dozens of such calls. `connect` returns
an aiosqlite connection whose calls run at once on the event loop's thread instead, so
SQLAlchemy's aiosqlite dialect and aiosqlite's cursors work unchanged.

What the thread used to absorb is a writer that waits for another connection's write lock
(SQLite's busy handler sleeps). On the loop's thread that sleep would stop the very coroutine
holding the lock, so these connections have no busy timeout: a call that finds the database
locked gives the loop back (`asyncio.sleep`, 0.5 ms doubling up to 20 ms) and tries again,
until `timeout` seconds have passed. Transactions begin with `BEGIN IMMEDIATE` (pysqlite issues
it before the first write), so a refused BEGIN has taken nothing and is safe to try again;
they never hold a read snapshot that a later write would find stale.

SQLite releases the GIL while it works, so a long query would now hold the loop for its
duration; the orchestrator's queries are indexed and short (bench/README.md: the longest
measured).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

BUSY_TIMEOUT_S = 30.0
_FIRST_WAIT_S = 0.0005
_LONGEST_WAIT_S = 0.02
_SQLITE_BUSY = 5
_SQLITE_BUSY_SNAPSHOT = 517  # a stale snapshot: trying again cannot help, the transaction must restart


def is_busy(error: BaseException) -> bool:
    """A lock another connection holds (worth waiting for), not a stale snapshot or another error."""
    code: int | None = getattr(error, "sqlite_errorcode", None)
    if code is None:  # no extended code: judge by the message
        return isinstance(error, sqlite3.OperationalError) and "database is locked" in str(error)
    return code & 0xFF == _SQLITE_BUSY and code != _SQLITE_BUSY_SNAPSHOT


class LockWait:
    """How long to wait before trying a call again that found the database locked: 0.5 ms,
    doubling up to 20 ms, until the connection's `busy_timeout_s`. Anything else is raised."""

    def __init__(self, connection: InlineConnection) -> None:
        self.connection = connection
        self.deadline = 0.0
        self.wait = _FIRST_WAIT_S

    def after(self, error: sqlite3.OperationalError) -> float:
        """The pause before the next try (raises `error` when waiting cannot help or took too long)."""
        if not is_busy(error):
            raise error
        now = time.monotonic()
        self.deadline = self.deadline or now + self.connection.busy_timeout_s
        if now >= self.deadline:
            raise error
        self.connection.busy_waits += 1
        pause, self.wait = self.wait, min(self.wait * 2, _LONGEST_WAIT_S)
        return pause


class _Inline:
    """Stands in for aiosqlite's queue to its thread: SQLAlchemy's dialect puts one call there
    (setting the isolation level); it runs at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs its calls on the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], *, timeout: float = BUSY_TIMEOUT_S) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _Inline()  # type: ignore[assignment]
        self.busy_timeout_s = timeout
        self.busy_waits = 0

    def __await__(self) -> Any:
        if self._connection is None:
            self._connection = self._connector()
        return self._ready().__await__()

    async def _ready(self) -> InlineConnection:
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        waiting = LockWait(self)
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                pause = waiting.after(error)
            await asyncio.sleep(pause)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def connect(database: str, *, timeout: float = BUSY_TIMEOUT_S, **kwargs: Any) -> InlineConnection:
    """Like `aiosqlite.connect`; SQLite itself never waits for a lock (`timeout=0`), the
    connection does, without blocking the loop. Writes begin with BEGIN IMMEDIATE."""
    kwargs.pop("check_same_thread", None)
    kwargs.setdefault("isolation_level", "IMMEDIATE")
    return InlineConnection(
        partial(sqlite3.connect, database, timeout=0, check_same_thread=False, **kwargs), timeout=timeout
    )
