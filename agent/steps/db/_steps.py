"""The `db.*` steps: query, execute, insert, export_csv, begin, commit, rollback."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.steps.db import _connect
from agent.steps.db._errors import import_sqlalchemy, map_sqlalchemy_errors
from agent.steps.db._models import (
    BeginParams,
    EndParams,
    ExecuteParams,
    ExportCsvParams,
    InsertParams,
    QueryParams,
    Target,
)
from agent.steps.db._values import cell, converter, row_dict
from shared.errors import BusinessError
from shared.steps import context, step


@asynccontextmanager
async def _connection(target: Target, *, write: bool) -> AsyncIterator[tuple[Any, str]]:
    """A connection for one step: the named transaction's, or a fresh one (committed at the end
    of a write step when nothing failed)."""
    if target.transaction is not None:
        tx = _connect.transaction(target.transaction)
        with map_sqlalchemy_errors(tx.where):
            yield tx.connection, tx.where
        return
    assert target.url is not None
    engine, where = _connect.engine_for(target.url, target.credential)
    with map_sqlalchemy_errors(where, connecting=True):
        connection = await engine.connect()
    try:
        with map_sqlalchemy_errors(where):
            yield connection, where
            if write:
                await connection.commit()
    finally:
        with map_sqlalchemy_errors(where):
            await connection.close()  # rolls back whatever was not committed


async def _stream(connection: Any, sql: str, params: dict[str, Any], chunk: int) -> tuple[list[str], Any]:
    sa = import_sqlalchemy()
    result = await connection.stream(sa.text(sql), params)
    return list(result.keys()), result.partitions(chunk)


@step("db.query", params=QueryParams, output="A table: one object per row, columns in the SELECT's order.")
async def query(params: QueryParams) -> list[dict[str, Any]]:
    """Run a SELECT and return its rows as a table.

    Values are bound to `:name` placeholders by the driver, never pasted into the SQL. Dates
    become ISO 8601 strings, Decimal a number, bytes base64. Rows are fetched `chunk_size` at a
    time; more than `max_rows` fails the step (write big results with `db.export_csv`).

    Example node:
        {"id": "open_orders", "type": "db.query", "params": {"url": "postgresql://robot@db/erp",
         "credential": "erp_db", "sql": "SELECT id, total FROM orders WHERE status = :s",
         "params": {"s": "open"}}}
    """
    table: list[dict[str, Any]] = []
    ctx = context()
    async with _connection(params, write=False) as (connection, where):
        keys, partitions = await _stream(connection, params.sql, params.params, params.chunk_size)
        async for rows in partitions:
            ctx.raise_if_cancelled()
            table.extend(row_dict(keys, row) for row in rows)
            if len(table) > params.max_rows:
                raise BusinessError(
                    f"{where}: the query returns more than max_rows={params.max_rows} rows "
                    "(raise max_rows, add a WHERE/LIMIT, or write them with db.export_csv)",
                    kind="too_many_rows",
                )
    return table


@step("db.execute", params=ExecuteParams, output="{rowcount}: rows changed (-1 when the driver cannot tell).")
async def execute(params: ExecuteParams) -> dict[str, Any]:
    """Run an INSERT, UPDATE, DELETE or DDL statement with bound values.

    A list of params runs the statement once per item (executemany). Outside a transaction the
    statement is committed at once; inside one (`transaction`), when `db.commit` runs.

    Example node:
        {"id": "close", "type": "db.execute", "params": {"transaction": "main",
         "sql": "UPDATE orders SET status = 'done' WHERE id = :id", "params": {"id": "{{ vars.order }}"}}}
    """
    sa = import_sqlalchemy()
    async with _connection(params, write=True) as (connection, _where):
        result = await connection.execute(sa.text(params.sql), params.params)
        return {"rowcount": int(result.rowcount)}


def _columns(rows: list[dict[str, Any]], table: Any) -> list[str]:
    columns = list(rows[0])
    known = set(columns)
    for index, row in enumerate(rows):
        extra = set(row) - known
        if extra:
            raise BusinessError(f"row {index} has columns the first row does not: {sorted(extra)}", kind="data")
    missing = [c for c in columns if c not in table.c]
    if missing:
        raise BusinessError(f"table {table.fullname} has no column {', '.join(missing)}", kind="data")
    return columns


async def _reflect(connection: Any, name: str, where: str) -> Any:
    sa = import_sqlalchemy()
    schema, _, table = name.rpartition(".")
    try:
        return await connection.run_sync(
            lambda sync: sa.Table(table, sa.MetaData(), schema=schema or None, autoload_with=sync)
        )
    except sa.exc.NoSuchTableError:
        raise BusinessError(f"{where}: there is no table {name}", kind="data") from None


@step("db.insert", params=InsertParams, output="{inserted}: the number of rows sent.")
async def insert(params: InsertParams) -> dict[str, Any]:
    """Insert a table (a list of objects) into a database table, `chunk_size` rows per batch.

    The columns are the first row's keys; a later row without one of them inserts NULL there.
    The table's column types are read from the database, so ISO 8601 strings go into DATE and
    TIMESTAMP columns and numbers into NUMERIC ones on every database.

    Example node:
        {"id": "load", "type": "db.insert", "params": {"url": "sqlite:///out/report.db",
         "table": "invoices", "rows": "{{ steps.read_sheet.output }}"}}
    """
    if not params.rows:
        return {"inserted": 0}
    sa = import_sqlalchemy()
    ctx = context()
    async with _connection(params, write=True) as (connection, where):
        table = await _reflect(connection, params.table, where)
        columns = _columns(params.rows, table)
        convert = {c: converter(table.c[c].type) for c in columns}
        statement = sa.insert(table)
        for start in range(0, len(params.rows), params.chunk_size):
            ctx.raise_if_cancelled()
            chunk = params.rows[start : start + params.chunk_size]
            await connection.execute(statement, [{c: convert[c](row.get(c)) for c in columns} for row in chunk])
    ctx.log(f"inserted {len(params.rows)} rows into {params.table} at {where}")
    return {"inserted": len(params.rows)}


def _csv_cell(value: Any) -> Any:
    value = cell(value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def _prepare(path: str, overwrite: bool) -> Path:
    target = Path(path)
    if target.exists() and not overwrite:
        raise BusinessError(f"{target} already exists (set overwrite to replace it)", kind="validation")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


@step("db.export_csv", params=ExportCsvParams, output="{path, rows, columns}.")
async def export_csv(params: ExportCsvParams) -> dict[str, Any]:
    """Stream a SELECT's rows into a CSV file without holding them in memory.

    The file is written as `<path>.part` and renamed when complete.

    Example node:
        {"id": "dump", "type": "db.export_csv", "params": {"url": "postgresql://robot@db/erp",
         "credential": "erp_db", "sql": "SELECT * FROM ledger WHERE year = :y", "params": {"y": 2026},
         "path": "out/ledger.csv"}}
    """
    target = _prepare(params.path, params.overwrite)
    partial = target.with_name(target.name + ".part")
    count = 0
    ctx = context()
    try:
        async with _connection(params, write=False) as (connection, where):
            keys, partitions = await _stream(connection, params.sql, params.params, params.chunk_size)
            with partial.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, delimiter=params.delimiter)
                writer.writerow(keys)
                async for rows in partitions:
                    ctx.raise_if_cancelled()
                    writer.writerows([_csv_cell(v) for v in row] for row in rows)
                    count += len(rows)
                    if params.max_rows and count > params.max_rows:
                        raise BusinessError(f"{where}: more than max_rows={params.max_rows} rows", kind="too_many_rows")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {"path": str(target), "rows": count, "columns": keys}


@step("db.begin", params=BeginParams, output="{transaction, url}: its name, and the URL without password.")
async def begin(params: BeginParams) -> dict[str, Any]:
    """Open a transaction that later `db.*` steps join with `"transaction": "<name>"`.

    It stays open across steps until `db.commit` or `db.rollback`; if the execution ends,
    fails or is cancelled first, it is rolled back.

    Example node:
        {"id": "tx", "type": "db.begin", "params": {"url": "postgresql://robot@db/erp", "credential": "erp_db"}}
    """
    where = await _connect.begin(params.url, params.credential, params.name)
    return {"transaction": params.name, "url": where}


@step("db.commit", params=EndParams, output="{transaction, committed: true}.")
async def commit(params: EndParams) -> dict[str, Any]:
    """Commit the transaction opened by `db.begin` and give its connection back.

    Example node:
        {"id": "done", "type": "db.commit", "params": {"name": "main"}}
    """
    await _connect.end(params.name, commit=True)
    return {"transaction": params.name, "committed": True}


@step("db.rollback", params=EndParams, output="{transaction, committed: false}.")
async def rollback(params: EndParams) -> dict[str, Any]:
    """Roll back the transaction opened by `db.begin` (e.g. in a try/catch's catch body).

    Example node:
        {"id": "undo", "type": "db.rollback", "params": {"name": "main"}}
    """
    await _connect.end(params.name, commit=False)
    return {"transaction": params.name, "committed": False}


DB_STEPS = (query, execute, insert, export_csv, begin, commit, rollback)
