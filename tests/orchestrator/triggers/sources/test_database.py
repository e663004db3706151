"""The database source: PostgreSQL change capture (installer, LISTEN/NOTIFY, the change log read
by position) against the suite's PostgreSQL, and watermark polling against SQLite."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.triggers.sources import SourceError
from orchestrator.triggers.sources._pgcapture import install_change_capture, main
from orchestrator.triggers.sources.database import DatabaseSource, DatabaseSourceConfig
from tests.orchestrator.triggers.sources._ctx import Harness
from tests.postgres import PostgresServer


@pytest.fixture
async def pg_db(postgres: PostgresServer) -> AsyncIterator[str]:
    """A fresh database with an `orders` table under change capture; yields its DSN."""
    import asyncpg

    name = await postgres.create_database()
    dsn = f"postgresql://postgres@127.0.0.1:{postgres.port}/{name}"
    connection = await asyncpg.connect(dsn)
    await connection.execute("CREATE TABLE orders (id serial PRIMARY KEY, customer text, total numeric(10,2))")
    await connection.close()
    await install_change_capture(dsn, "orders")
    yield dsn
    await postgres.drop_database(name)


async def _sql(dsn: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _pg(dsn: str, **extra: Any) -> DatabaseSourceConfig:
    values: dict[str, Any] = {"poll_interval_s": 3600} | extra
    return DatabaseSourceConfig(mode="postgres", url=dsn, table="orders", **values)


@pytest.mark.postgres
async def test_insert_update_delete_each_wake_the_listener_as_one_event(pg_db: str) -> None:
    harness = Harness()
    harness.start(DatabaseSource(), _pg(pg_db))  # a re-read every hour: only NOTIFY brings them in time
    await harness.wait_status("listening")
    await _sql(pg_db, "INSERT INTO orders (customer, total) VALUES ('Ann', 12.50)")
    await _sql(pg_db, "UPDATE orders SET total = 13 WHERE customer = 'Ann'", "DELETE FROM orders")
    events = await harness.wait_events(3, within=5)
    await harness.stop_run()
    assert [(e.payload["op"], e.payload["table"]) for e in events] == [
        ("INSERT", "public.orders"),
        ("UPDATE", "public.orders"),
        ("DELETE", "public.orders"),
    ]
    assert events[0].payload["row"] == {"id": 1, "customer": "Ann", "total": 12.50}
    assert events[1].payload["row"]["total"] == 13
    assert [e.key for e in events] == [str(e.payload["id"]) for e in events]
    assert dt.datetime.fromisoformat(events[0].payload["at"]).tzinfo is not None


@pytest.mark.postgres
async def test_changes_made_while_stopped_are_read_from_the_log_and_never_twice(pg_db: str) -> None:
    harness = Harness()
    config = _pg(pg_db, operations=["INSERT"])
    harness.start(DatabaseSource(), config)
    await harness.wait_status("listening")
    await _sql(pg_db, "INSERT INTO orders (customer) VALUES ('first')")
    await harness.wait_events(1)
    await harness.stop_run()

    await _sql(pg_db, "INSERT INTO orders (customer) VALUES ('while stopped 1')", "UPDATE orders SET total = 1")
    await _sql(pg_db, "INSERT INTO orders (customer) VALUES ('while stopped 2')")
    harness.start(DatabaseSource(), config)
    await harness.wait_events(3)
    await asyncio.sleep(0.3)
    await harness.stop_run()
    assert [e.payload["row"]["customer"] for e in harness.recorder.events] == [
        "first",
        "while stopped 1",
        "while stopped 2",
    ]
    assert harness.recorder.repeats == []


@pytest.mark.postgres
async def test_a_change_committed_late_by_an_older_transaction_is_not_skipped(pg_db: str) -> None:
    import asyncpg

    harness = Harness()
    harness.start(DatabaseSource(), _pg(pg_db, poll_interval_s=0.2))
    await harness.wait_status("listening")
    slow = await asyncpg.connect(pg_db)
    transaction = slow.transaction()
    await transaction.start()
    await slow.execute("INSERT INTO orders (customer) VALUES ('slow')")  # takes the smaller change id
    await _sql(pg_db, "INSERT INTO orders (customer) VALUES ('fast')")  # committed first
    await asyncio.sleep(0.6)
    assert harness.recorder.events == []  # not before the older transaction is over
    await transaction.commit()
    await slow.close()
    events = await harness.wait_events(2)
    await harness.stop_run()
    assert sorted(e.payload["row"]["customer"] for e in events) == ["fast", "slow"]


@pytest.mark.postgres
async def test_batches_carry_lists_and_a_pending_batch_is_emitted_again_unchanged(pg_db: str) -> None:
    await _sql(pg_db, *(f"INSERT INTO orders (customer) VALUES ('c{i}')" for i in range(7)))
    harness = Harness()
    config = _pg(pg_db, batch_size=3, process_existing=True)
    harness.start(DatabaseSource(), config)
    events = await harness.wait_events(3)
    await harness.stop_run()
    assert [e.payload["count"] for e in events] == [3, 3, 1]
    assert [e.key for e in events] == ["1..3", "4..6", "7"]
    assert [c["row"]["customer"] for c in events[0].payload["changes"]] == ["c0", "c1", "c2"]

    # The state of a stop right after "4..6" was emitted, before the cursor moved past it:
    crashed = Harness()
    crashed.recorder.events = events[:2]
    crashed.cursor.state = {"after": await _position_of(pg_db, 3), "pending": {"key": "4..6", "through": None}}
    crashed.cursor.state["pending"]["through"] = await _position_of(pg_db, 6)
    crashed.start(DatabaseSource(), config)
    await crashed.wait_for(lambda: crashed.recorder.repeats == ["4..6"], what="the pending batch again")
    await crashed.wait_events(3)
    await crashed.stop_run()
    assert crashed.recorder.keys == ["1..3", "4..6", "7"]  # the same changes under the same keys


async def _position_of(dsn: str, change_id: int) -> list[int]:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        xid = await connection.fetchval("SELECT xid FROM rpa_changes WHERE id = $1", change_id)
    finally:
        await connection.close()
    return [int(xid), change_id]


@pytest.mark.postgres
async def test_the_installer_refuses_odd_names_and_runs_from_a_shell(pg_db: str) -> None:
    with pytest.raises(ValueError, match="not a table name"):
        await install_change_capture(pg_db, 'orders"; DROP TABLE orders; --')
    assert await asyncio.to_thread(main, ["install", pg_db, "public.orders", "--channel", "orders_changes"]) == 0
    assert await asyncio.to_thread(main, ["install", pg_db, "no_such_table"]) == 2
    harness = Harness()
    harness.start(DatabaseSource(), _pg(pg_db, channel="orders_changes"))
    await harness.wait_status("listening")
    await _sql(pg_db, "INSERT INTO orders (customer) VALUES ('on the new channel')")
    await harness.wait_events(1, within=5)
    await harness.stop_run()


async def test_postgres_without_a_server_ends_in_a_source_error_after_the_bound() -> None:
    from tests.servers import free_port

    harness = Harness()
    config = DatabaseSourceConfig(
        mode="postgres", url=f"postgresql://postgres@127.0.0.1:{free_port()}/x", table="orders",
        reconnect_initial_s=0.05, reconnect_attempts=2,
    )  # fmt: skip
    with pytest.raises(SourceError, match="gave up after 2 failed attempts"):
        await harness.start(DatabaseSource(), config)


def _sqlite(path: Path, *statements: str) -> None:
    import sqlite3

    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement)


async def test_watermark_polling_on_an_increasing_key_survives_restarts(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    _sqlite(db, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)", "INSERT INTO invoices VALUES (1, 5)")
    config = DatabaseSourceConfig(
        mode="watermark", url=f"sqlite+aiosqlite:///{db}", table="invoices",
        watermark_column="id", key_column="id", poll_interval_s=0.1,
    )  # fmt: skip
    harness = Harness()
    harness.start(DatabaseSource(), config)
    await harness.wait_status("polling every 0.1 s")
    _sqlite(db, "INSERT INTO invoices VALUES (2, 7.5)")
    await harness.wait_events(1)
    await harness.stop_run()
    _sqlite(db, "INSERT INTO invoices VALUES (3, 1)", "INSERT INTO invoices VALUES (4, 2)")
    harness.start(DatabaseSource(), config)
    await harness.wait_events(3)
    await asyncio.sleep(0.3)
    await harness.stop_run()
    assert harness.recorder.keys == ["2", "3", "4"]  # row 1 was there before the first start
    assert harness.recorder.payloads[0] == {"table": "invoices", "row": {"id": 2, "amount": 7.5}}
    assert harness.recorder.repeats == []


async def test_watermark_ties_on_a_timestamp_are_ordered_by_the_key(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    same = "2026-12-07 10:30:00.000000"
    _sqlite(
        db,
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, updated_at TIMESTAMP)",
        *(f"INSERT INTO tickets VALUES ({pk}, '{same}')" for pk in (5, 9, 7)),
    )
    config = DatabaseSourceConfig(
        mode="watermark", url=f"sqlite+aiosqlite:///{db}", table="tickets", watermark_column="updated_at",
        key_column="id", poll_interval_s=0.1, batch_size=2, process_existing=True,
    )  # fmt: skip
    harness = Harness()
    harness.start(DatabaseSource(), config)
    await harness.wait_events(2)  # three rows, one timestamp, batches of two: the tie spans both
    await harness.stop_run()
    harness.start(DatabaseSource(), config)
    await harness.wait_status("polling")
    _sqlite(db, "UPDATE tickets SET updated_at = '2026-12-07 11:00:00.000000' WHERE id = 5")
    await harness.wait_events(3)
    await asyncio.sleep(0.3)
    await harness.stop_run()

    rows = [[c["row"]["id"] for c in e.payload["changes"]] for e in harness.recorder.events]
    assert rows == [[5, 7], [9], [5]]
    assert harness.recorder.keys == [
        "5@2026-12-07T10:30:00..7@2026-12-07T10:30:00",
        "9@2026-12-07T10:30:00",
        "5@2026-12-07T11:00:00",  # the same row changed later: a new event
    ]
    assert harness.recorder.repeats == []


def test_the_config_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="either url or credential"):
        DatabaseSourceConfig(mode="postgres", table="t")
    with pytest.raises(ValueError, match="password inside the url"):
        DatabaseSourceConfig(mode="postgres", url="postgresql://u:secret@h/db", table="t")
    with pytest.raises(ValueError, match="watermark_column and key_column"):
        DatabaseSourceConfig(mode="watermark", url="sqlite+aiosqlite:///x.db", table="t")
    with pytest.raises(ValueError, match="not a table name"):
        DatabaseSourceConfig(mode="postgres", url="postgresql://h/db", table="a;b")


@pytest.mark.postgres
async def test_a_database_that_does_not_exist_is_a_source_error(postgres: PostgresServer) -> None:
    harness = Harness()
    config = DatabaseSourceConfig(
        mode="postgres", url=f"postgresql://postgres@127.0.0.1:{postgres.port}/no_such_db", table="orders"
    )
    with pytest.raises(SourceError, match="refused the connection: InvalidCatalogNameError"):
        await harness.start(DatabaseSource(), config)


async def test_a_watermark_column_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    _sqlite(db, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    config = DatabaseSourceConfig(
        mode="watermark", url=f"sqlite+aiosqlite:///{db}", table="invoices", watermark_column="updated_at",
        key_column="id",
    )  # fmt: skip
    with pytest.raises(SourceError, match="has no column 'updated_at'") as caught:
        await Harness().start(DatabaseSource(), config)
    assert not caught.value.retryable


@pytest.mark.postgres
async def test_a_source_killed_mid_stream_loses_and_doubles_nothing(pg_db: str) -> None:
    harness = Harness()
    harness.start(DatabaseSource(), _pg(pg_db, poll_interval_s=0.5))
    await harness.wait_status("listening")
    for index in range(15):
        await _sql(pg_db, f"INSERT INTO orders (customer) VALUES ('c{index}')")
        if index == 6:
            await harness.wait_events(2)
            assert harness.task is not None
            harness.task.cancel()  # no stop, no clean-up: the process dies here
            await asyncio.gather(harness.task, return_exceptions=True)
    harness.start(DatabaseSource(), _pg(pg_db, poll_interval_s=0.5))
    await harness.wait_events(15)
    await asyncio.sleep(0.3)
    await harness.stop_run()
    assert sorted(e.payload["row"]["customer"] for e in harness.recorder.events) == sorted(f"c{i}" for i in range(15))
    assert len(harness.recorder.repeats) <= 1
