"""SQLite connections that run on the event loop's thread: a writer that finds the database
locked waits without blocking the loop (the holder of the lock goes on and commits), gives up
after its timeout with SQLite's own error, and never retries what waiting cannot fix."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from orchestrator.db import sqlite_inline
from orchestrator.db.session import Database


class _Error(sqlite3.OperationalError):
    def __init__(self, code: int) -> None:
        super().__init__("database is locked")
        self.sqlite_errorcode = code


def test_only_a_lock_held_elsewhere_is_waited_for() -> None:
    assert sqlite_inline.is_busy(_Error(5))  # SQLITE_BUSY
    assert sqlite_inline.is_busy(_Error(261))  # SQLITE_BUSY_RECOVERY
    assert not sqlite_inline.is_busy(_Error(517))  # SQLITE_BUSY_SNAPSHOT: the transaction must restart
    assert not sqlite_inline.is_busy(_Error(1))
    assert not sqlite_inline.is_busy(ValueError("database is locked"))


async def test_a_locked_writer_waits_while_the_loop_goes_on(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (who TEXT)"))
        order: list[str] = []
        ticks = 0
        holding = asyncio.Event()

        async def holder() -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO t VALUES ('holder')"))  # takes the write lock
                holding.set()
                await asyncio.sleep(0.3)  # other coroutines run meanwhile
                order.append("holder commits")

        async def waiter() -> None:
            await holding.wait()
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO t VALUES ('waiter')"))  # waits for the lock
                order.append("waiter wrote")

        async def ticker() -> None:
            nonlocal ticks
            while "waiter wrote" not in order:
                ticks += 1
                await asyncio.sleep(0.01)

        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(holder(), waiter(), ticker()), timeout=10)
        assert order == ["holder commits", "waiter wrote"]
        assert ticks >= 10  # the loop was never blocked while the waiter waited
        assert time.monotonic() - started < 2
        async with db.transaction() as session:
            assert list(await session.scalars(text("SELECT who FROM t ORDER BY rowid"))) == ["holder", "waiter"]
    finally:
        await db.dispose()


async def test_calls_run_on_the_loops_thread_and_a_lock_held_too_long_is_an_error(tmp_path: Path) -> None:
    path = str(tmp_path / "timeout.db")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x INTEGER)")
    connection = await sqlite_inline.connect(path, timeout=0.3)
    try:
        threads: list[int] = []
        await connection.create_function("whose", 0, lambda: threads.append(threading.get_ident()) or 1)
        cursor = await connection.execute("SELECT whose()")
        assert await cursor.fetchall() == [(1,)]
        assert threads == [threading.get_ident()]
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock and never lets go
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await connection.execute("INSERT INTO t VALUES (1)")
        assert 0.3 <= time.monotonic() - started < 2
        assert connection.busy_waits > 1
        other.execute("ROLLBACK")
        await connection.execute("INSERT INTO t VALUES (2)")  # BEGIN IMMEDIATE: nothing was half taken
        await connection.commit()
        assert other.execute("SELECT x FROM t").fetchall() == [(2,)]
    finally:
        await connection.close()
        other.close()


async def test_the_engine_calls_sqlite_without_a_switch_per_call_and_core_connections_work(tmp_path: Path) -> None:
    """`sqlite_dbapi`: SQLAlchemy's adapter calls the sqlite3 objects directly; `AsyncConnection`,
    which refuses a statement that awaited nothing, still runs statements, reads and writes."""
    from orchestrator.db.sqlite_dbapi import InlineAdaptedConnection

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'core.db'}")
    try:
        async with db.engine.begin() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.dbapi_connection, InlineAdaptedConnection)
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])  # executemany
            await connection.exec_driver_sql("INSERT INTO t VALUES (3)")
        async with db.engine.connect() as connection:
            assert list((await connection.execute(text("SELECT x FROM t ORDER BY x"))).scalars()) == [1, 2, 3]
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t VALUES (4)"))

        async def fails() -> None:
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO t VALUES (5)"))
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await fails()
        async with db.transaction() as session:
            assert list(await session.scalars(text("SELECT x FROM t ORDER BY x"))) == [1, 2, 3, 4]
    finally:
        await db.dispose()
