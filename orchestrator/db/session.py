"""The async engine and session factory.

SQLite gets WAL, foreign keys, and connections whose calls run on the event loop's thread
(`sqlite_inline`: no thread hop per call; a locked database is waited for without blocking
the loop), called by SQLAlchemy without a greenlet switch per call (`sqlite_dbapi`).

`defer_insert(session, table, values)` writes a row with the session's next flush, without an
ORM object (the execution history). `Database.watch(tables)` counts the committed transactions
that wrote any of those tables through this database's sessions, so an in-process cache of their
rows knows when to stop believing itself (`db/read_cache.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Table, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session

from orchestrator.db import sqlite_inline
from orchestrator.db.sqlite_dbapi import InlineDBAPI


class Database:
    """The engine and session factory of requests, and a second small one for the group-commit
    writers (`db/group_commit.py`): a request may hold a connection while it waits for a
    writer, so writers that took theirs from the same pool could wait for one forever."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = self._engine(url, echo, pool_size=10, max_overflow=20)
        self._watches: list[WriteWatch] = []
        self._session_class = self._watched_session_class()
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, sync_session_class=self._session_class)
        self._writer_engine: AsyncEngine | None = None
        self._echo = echo

    def watch(self, tables: set[str]) -> WriteWatch:
        """A counter of the committed transactions that wrote any of `tables` (by table name)
        through this database's sessions: by the unit of work (objects added, changed, deleted)
        or by an INSERT, UPDATE or DELETE statement given to `Session.execute`. SQL given to a
        connection directly, and other processes' writes, are not seen."""
        watch = WriteWatch(frozenset(tables))
        self._watches.append(watch)
        return watch

    def _watched_session_class(self) -> type[Session]:  # noqa: C901
        watches, tables_of = self._watches, {}  # type: list[WriteWatch], dict[type, str]

        def wrote(session: Session, table: str) -> None:
            for watch in watches:
                if table in watch.tables:
                    session.info.setdefault(_WROTE, set()).add(watch)

        def after_flush(session: Session, _context: Any) -> None:
            _write_deferred(session)
            if not watches:
                return
            for kind in {type(obj) for obj in (*session.new, *session.dirty, *session.deleted)}:
                table = tables_of.get(kind)
                if table is None:
                    table = tables_of[kind] = getattr(getattr(kind, "__table__", None), "name", "")
                wrote(session, table)

        def on_execute(state: ORMExecuteState) -> None:
            if watches and (state.is_insert or state.is_update or state.is_delete):
                table = getattr(state.statement, "table", None)
                if table is not None:
                    wrote(state.session, getattr(table, "name", ""))

        def before_commit(session: Session) -> None:
            session.flush()  # rows the deferred ones refer to may still be pending
            _write_deferred(session)

        def after_commit(session: Session) -> None:
            for watch in session.info.pop(_WROTE, ()):
                watch.generation += 1

        def after_rollback(session: Session) -> None:
            session.info.pop(_WROTE, None)
            session.info.pop(_DEFERRED, None)

        watched = type("WatchedSession", (Session,), {"writes_deferred": True})
        event.listen(watched, "after_flush", after_flush)
        event.listen(watched, "do_orm_execute", on_execute)
        event.listen(watched, "before_commit", before_commit)
        event.listen(watched, "after_commit", after_commit)
        event.listen(watched, "after_rollback", after_rollback)
        return watched

    def _engine(self, url: str, echo: bool, *, pool_size: int, max_overflow: int) -> AsyncEngine:
        options: dict[str, Any] = {"echo": echo, "pool_size": pool_size, "max_overflow": max_overflow}
        if self.is_sqlite:
            path = make_url(url).database or ":memory:"
            options["async_creator"] = lambda: sqlite_inline.connect(path)
            options["module"] = InlineDBAPI()
        else:
            options["pool_pre_ping"] = True
        engine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine

    def write_transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """`transaction()` on the writers' own connections."""
        if self._writer_engine is None:
            self._writer_engine = self._engine(self.url, self._echo, pool_size=2, max_overflow=2)
            self._writer_sessions = async_sessionmaker(
                self._writer_engine, expire_on_commit=False, sync_session_class=self._session_class
            )
        return _transaction(self._writer_sessions())

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session whose work is committed at the end, or rolled back on error."""
        return _transaction(self.sessions())

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._writer_engine is not None:
            await self._writer_engine.dispose()


@asynccontextmanager
async def _transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    try:
        async with session.begin():
            yield session
    finally:
        await release(session)


async def release(session: AsyncSession) -> None:
    """Give the session's connection back; what it did and did not commit is rolled back.

    `async with session` does the same through `AsyncSession.close` run in a task of its own
    behind `asyncio.shield`, so that a cancellation cannot cut the rollback short: the caller then
    waits a whole turn of the event loop (every other ready callback runs first) after its work.
    Once the transaction has ended nothing holds a connection, and forgetting the loaded objects
    does no IO, so that is done at once. On SQLite the rollback does no IO either (the calls run
    inline, `sqlite_inline`), so nothing can cut it short; elsewhere it keeps its shield."""
    if not session.in_transaction():
        session.sync_session.close()
    elif session.get_bind().dialect.name == "sqlite":
        await session.close()
    else:
        await session.__aexit__(None, None, None)


_WROTE = "rpa.watched_writes"
_DEFERRED = "rpa.deferred_inserts"


def defer_insert(session: AsyncSession | Session, table: Table, values: dict[str, Any]) -> None:
    """Insert `values` (every column of `table`, so that rows share their keys) with the session's
    next flush, after the objects it writes: as `session.add` of a mapped object would, without
    building one. The rows of a flush go out as one INSERT per table (executemany), about three
    times cheaper per row than the unit of work's. For a session of a `Database` only."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not getattr(sync, "writes_deferred", False):
        raise TypeError("defer_insert needs a session of a Database (its flush writes the deferred rows)")
    sync.info.setdefault(_DEFERRED, {}).setdefault(table, []).append(values)


async def write_deferred(session: AsyncSession) -> None:
    """Write the rows deferred so far now, for a statement that must see them (the session may
    have nothing else to flush, or may not be flushing on its own)."""
    if session.sync_session.info.get(_DEFERRED):
        await session.run_sync(_write_deferred)


def _write_deferred(session: Session) -> None:
    pending: dict[Table, list[dict[str, Any]]] | None = session.info.pop(_DEFERRED, None)
    if pending:
        connection = session.connection()
        for table, rows in pending.items():
            connection.execute(table.insert(), rows)


class WriteWatch:
    """See `Database.watch`. `generation` grows by one after each such commit; a cached row read
    at one generation is stale once the generation moved on."""

    def __init__(self, tables: frozenset[str]) -> None:
        self.tables = tables
        self.generation = 0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def after_commit(session: AsyncSession, callback: Any) -> None:
    """Call `callback()` once `session`'s transaction has committed (not on rollback)."""
    event.listen(session.sync_session, "after_commit", lambda _session: callback(), once=True)
