"""The two readers of the database source, behind one shape: `read(after, through, limit)`
returns changes in a total order after the position `after` (and up to `through`, inclusive),
each with its position (JSON), its event key and its payload.

- `PostgresChanges` reads the change log (`_pgcapture.py`) in (xid, id) order, taking only rows
  of transactions older than the oldest one still running (`pg_snapshot_xmin`): every such row
  is final, so a change id committed late by a slow transaction is never skipped over.
- `WatermarkRows` reads any table through SQLAlchemy in (watermark, key) order; ties on the
  watermark (several rows with one timestamp) are ordered by the key.

Connection failures become `ReadFailed` (the source reconnects with backoff).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from dataclasses import dataclass
from typing import Any

from orchestrator.triggers.sources._api import SourceError
from orchestrator.triggers.sources._pgcapture import CHANGE_LOG, check_channel, quote_table

__all__ = ["Change", "PostgresChanges", "ReadFailed", "WatermarkRows", "json_safe"]


class ReadFailed(Exception):
    """The database could not be reached or dropped the connection; the source retries."""


@dataclass(frozen=True)
class Change:
    position: list[Any]
    key: str
    payload: dict[str, Any]


def json_safe(value: Any) -> Any:
    """A column value as JSON: dates and datetimes ISO 8601, decimals as numbers, bytes base64."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return value


def _encode(value: Any) -> Any:
    """A watermark or key value for the cursor, typed so it reads back as the same value."""
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        if "date" in value:
            return dt.date.fromisoformat(value["date"])
        if "decimal" in value:
            return decimal.Decimal(value["decimal"])
    return value


class PostgresChanges:
    """The change log of one PostgreSQL database, woken by LISTEN."""

    def __init__(self, dsn: str, channel: str, tables: list[str], operations: list[str]) -> None:
        self.dsn, self.channel = dsn, check_channel(channel)
        self.tables = {quote_table(t)[1] for t in tables}
        self.operations = set(operations)
        self.connection: Any = None
        self.woken: Any = None

    async def open(self, woken: Any) -> None:
        """Connect and LISTEN; `woken` (an asyncio.Event) is set by each NOTIFY."""
        import asyncpg

        self.woken = woken
        try:
            self.connection = await asyncpg.connect(self.dsn, timeout=30)
            await self.connection.add_listener(self.channel, self._notified)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise ReadFailed(f"{type(exc).__name__}: {exc}") from exc
        except asyncpg.PostgresError as exc:  # a refused role, a database that does not exist
            raise SourceError(f"PostgreSQL refused the connection: {type(exc).__name__}: {exc}") from exc

    def _notified(self, *_args: Any) -> None:
        self.woken.set()

    async def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            try:
                await connection.close(timeout=5)
            except Exception:  # already gone
                connection.terminate()

    async def start(self, process_existing: bool) -> list[Any]:
        """Where a first run starts: the beginning of the log, or its current end."""
        if process_existing:
            return [0, 0]
        row = await self._fetch(
            f"SELECT xid, id FROM {CHANGE_LOG} WHERE xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
            "ORDER BY xid DESC, id DESC LIMIT 1"
        )
        return [int(row[0]["xid"]), int(row[0]["id"])] if row else [0, 0]

    async def read(self, after: list[Any] | None, through: list[Any] | None, limit: int) -> list[Change]:
        xid, change_id = after or [0, 0]
        upper, args = ("AND (xid, id) <= ($4, $5)", [*through]) if through else ("", [])
        rows = await self._fetch(
            f'SELECT id, xid, "table", op, row::text AS row, at FROM {CHANGE_LOG} '
            "WHERE (xid, id) > ($1, $2) AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
            f"{upper} ORDER BY xid, id LIMIT $3",
            xid,
            change_id,
            limit,
            *args,
        )
        changes = []
        for row in rows:
            position = [int(row["xid"]), int(row["id"])]
            if (self.tables and row["table"] not in self.tables) or row["op"] not in self.operations:
                changes.append(Change(position, "", {}))  # read past, not emitted
                continue
            payload = {
                "id": int(row["id"]),
                "table": row["table"],
                "op": row["op"],
                "row": json.loads(row["row"]) if row["row"] is not None else None,
                "at": row["at"].isoformat(),
            }
            changes.append(Change(position, str(row["id"]), payload))
        return changes

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        import asyncpg

        try:
            return list(await self.connection.fetch(sql, *args, timeout=30))
        except asyncpg.UndefinedTableError:
            raise SourceError(
                f"the change log '{CHANGE_LOG}' does not exist: install the change capture on the table "
                "(python -m orchestrator.triggers.sources._pgcapture install DSN TABLE)"
            ) from None
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise ReadFailed(f"{type(exc).__name__}: {exc}") from exc
        except asyncpg.PostgresError as exc:  # e.g. no permission on the change log
            raise SourceError(f"reading the change log failed: {type(exc).__name__}: {exc}") from exc


class WatermarkRows:
    """Rows of one table of any SQLAlchemy database, past a watermark."""

    def __init__(self, url: str, table: str, column: str, key: str) -> None:
        self.url, self.table_name, self.column_name, self.key_name = url, table, column, key
        self.engine: Any = None
        self.table: Any = None

    async def open(self, woken: Any) -> None:
        from sqlalchemy import MetaData, Table
        from sqlalchemy.exc import NoSuchTableError, OperationalError, SQLAlchemyError
        from sqlalchemy.ext.asyncio import create_async_engine

        self.engine = create_async_engine(self.url)
        schema, _, name = self.table_name.rpartition(".")
        try:
            async with self.engine.connect() as connection:
                self.table = await connection.run_sync(
                    lambda sync: Table(name, MetaData(), schema=schema or None, autoload_with=sync)
                )
        except NoSuchTableError:
            raise SourceError(f"the table '{self.table_name}' does not exist", retryable=False) from None
        except (OperationalError, OSError) as exc:
            raise ReadFailed(f"{type(exc).__name__}: {exc.__cause__ or exc}") from exc
        except SQLAlchemyError as exc:
            raise SourceError(f"the table '{self.table_name}' cannot be read: {type(exc).__name__}") from exc
        for column in (self.column_name, self.key_name):
            if column not in self.table.c:
                raise SourceError(f"the table '{self.table_name}' has no column '{column}'", retryable=False)

    async def close(self) -> None:
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.dispose()

    async def start(self, process_existing: bool) -> list[Any] | None:
        if process_existing:
            return None
        column, key = self.table.c[self.column_name], self.table.c[self.key_name]
        from sqlalchemy import select

        rows = await self._run(select(column, key).order_by(column.desc(), key.desc()).limit(1))
        return [_encode(rows[0][0]), _encode(rows[0][1])] if rows else None

    async def read(self, after: list[Any] | None, through: list[Any] | None, limit: int) -> list[Change]:
        from sqlalchemy import and_, or_, select

        column, key = self.table.c[self.column_name], self.table.c[self.key_name]
        query = select(self.table).order_by(column, key).limit(limit)
        if after is not None:
            mark, last = _decode(after[0]), _decode(after[1])
            query = query.where(or_(column > mark, and_(column == mark, key > last)))
        if through is not None:
            mark, last = _decode(through[0]), _decode(through[1])
            query = query.where(or_(column < mark, and_(column == mark, key <= last)))
        changes = []
        for row in await self._run(query):
            values = dict(row._mapping)
            mark, pk = values[self.column_name], values[self.key_name]
            event_key = str(pk) if self.column_name == self.key_name else f"{pk}@{json_safe(mark)}"
            payload = {"table": self.table_name, "row": {k: json_safe(v) for k, v in values.items()}}
            changes.append(Change([_encode(mark), _encode(pk)], event_key, payload))
        return changes

    async def _run(self, query: Any) -> list[Any]:
        from sqlalchemy.exc import OperationalError, SQLAlchemyError

        try:
            async with self.engine.connect() as connection:
                return list((await connection.execute(query)).all())
        except (OperationalError, OSError) as exc:
            raise ReadFailed(f"{type(exc).__name__}: {exc.__cause__ or exc}") from exc
        except SQLAlchemyError as exc:  # the SQL is ours: a table changed under the trigger
            raise SourceError(f"the table '{self.table_name}' cannot be read: {type(exc).__name__}") from exc
