"""SQLAlchemy's asyncio SQLite driver, calling SQLite directly.

SQLAlchemy runs a statement of an `AsyncSession` in a greenlet, and its aiosqlite adapter hands
every DBAPI call (open a cursor, execute, fetch, close, commit) back to the event loop as an
awaitable: a greenlet switch each way per call, four or five per statement. With
`sqlite_inline`'s connections those awaitables never wait, so the switches are all the adapter
does: here the cursor and the connection call the `sqlite3` objects at once instead, with one
switch per statement left (`AsyncConnection.execute` refuses a statement that awaited nothing).

The one thing that does wait is a write lock that another connection holds: that wait goes back
to the event loop (`await_(asyncio.sleep(...))`, as `sqlite_inline` does), so the coroutine that
holds the lock can finish. Server-side cursors (`stream`) keep SQLAlchemy's own adapter.

`Database` passes `InlineDBAPI()` as the engine's DBAPI module (`create_async_engine(module=...)`).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Callable
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

from orchestrator.db.sqlite_inline import InlineConnection, LockWait, connect


async def _nothing() -> None:
    return None


def _waiting_for_the_lock(connection: InlineConnection, call: Callable[..., Any], *args: Any) -> Any:
    """`call(*args)`; while another connection holds the write lock, the event loop runs on and
    the call is tried again, up to the connection's busy timeout."""
    waiting = LockWait(connection)
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as error:
            pause = waiting.after(error)
        await_(asyncio.sleep(pause))


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """A `sqlite3` cursor behind SQLAlchemy's asyncio cursor interface, rows fetched at execute."""

    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return connection._conn.cursor()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            cursor: Any = self._cursor  # a sqlite3 cursor (`_make_new_cursor`)
            args = (operation,) if parameters is None else (operation, parameters)
            result = _waiting_for_the_lock(cast(InlineConnection, self._connection), cursor.execute, *args)
            if cursor.description:
                self._rows = collections.deque(cursor.fetchall())
            await_(_nothing())  # `AsyncConnection.execute` insists that a statement awaited something
            return result
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            result = _waiting_for_the_lock(
                cast(InlineConnection, self._connection), self._cursor.executemany, operation, seq_of_parameters
            )
            await_(_nothing())
            return result
        except Exception as error:
            self._adapt_connection._handle_exception(error)


class InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's adapter of an `InlineConnection`, committing and rolling back at once."""

    __slots__ = ()
    _cursor_cls = InlineCursor

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection._conn.isolation_level = value

    def commit(self) -> None:
        if self._connection._connection:
            try:
                connection = cast(InlineConnection, self._connection)
                _waiting_for_the_lock(connection, connection._conn.commit)
            except Exception as error:
                self._handle_exception(error)

    def rollback(self) -> None:
        if self._connection._connection:
            try:
                self._connection._conn.rollback()
            except Exception as error:
                self._handle_exception(error)


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module the engine is given: aiosqlite's, connecting with `sqlite_inline.connect`
    (or the engine's `async_creator`) and adapting with `InlineAdaptedConnection`."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> InlineAdaptedConnection:
        creator = kw.pop("async_creator_fn", None)
        connection = creator(*arg, **kw) if creator else connect(*arg, **kw)
        if not isinstance(connection, InlineConnection):
            raise TypeError(f"InlineDBAPI connects with sqlite_inline.connect, not {type(connection).__name__}")
        return InlineAdaptedConnection(self, await_(connection))
