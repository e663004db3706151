"""The async engine and session factory.

SQLite gets WAL, foreign keys, and connections whose calls run on the event loop's thread
(`sqlite_inline`: no thread hop per call; a locked database is waited for without blocking
the loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from orchestrator.db import sqlite_inline


class Database:
    """The engine and session factory of requests, and a second small one for the group-commit
    writers (`services/group_commit.py`): a request may hold a connection while it waits for a
    writer, so writers that took theirs from the same pool could wait for one forever."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = self._engine(url, echo, pool_size=10, max_overflow=20)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer_engine: AsyncEngine | None = None
        self._echo = echo

    def _engine(self, url: str, echo: bool, *, pool_size: int, max_overflow: int) -> AsyncEngine:
        options: dict[str, Any] = {"echo": echo, "pool_size": pool_size, "max_overflow": max_overflow}
        if self.is_sqlite:
            path = make_url(url).database or ":memory:"
            options["async_creator"] = lambda: sqlite_inline.connect(path)
        else:
            options["pool_pre_ping"] = True
        engine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncSession]:
        """`transaction()` on the writers' own connections."""
        if self._writer_engine is None:
            self._writer_engine = self._engine(self.url, self._echo, pool_size=2, max_overflow=2)
            self._writer_sessions = async_sessionmaker(self._writer_engine, expire_on_commit=False)
        async with self._writer_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed at the end, or rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._writer_engine is not None:
            await self._writer_engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def after_commit(session: AsyncSession, callback: Any) -> None:
    """Call `callback()` once `session`'s transaction has committed (not on rollback)."""
    event.listen(session.sync_session, "after_commit", lambda _session: callback(), once=True)
