"""`db.*` on SQLite and PostgreSQL: tables out, bound params, bulk insert, streaming,
transactions across steps, and a password that never shows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from agent.steps.db import begin, commit, execute, export_csv, insert, query, rollback
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.db.conftest import PASSWORD
from tests.postgres import PostgresServer

CREATE = "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(200), amount NUMERIC(10, 2), born DATE)"


async def _setup(env: StepEnvironment, url: str) -> dict[str, Any]:
    target = {"url": url, "credential": "db"}
    await env.run(execute, {**target, "sql": CREATE})
    return target


async def test_query_returns_a_table_with_json_cells(env: StepEnvironment, db_url: str) -> None:
    target = await _setup(env, db_url)
    people = [
        {"id": 1, "name": "Ann", "amount": 12.5, "born": "1990-01-31"},
        {"id": 2, "name": "Bob", "amount": 3, "born": None},
    ]
    await env.run(insert, {**target, "table": "people", "rows": people})
    rows = await env.run(query, {**target, "sql": "SELECT id, name, amount, born FROM people ORDER BY id"})
    assert rows == [
        {"id": 1, "name": "Ann", "amount": 12.5, "born": "1990-01-31"},
        {"id": 2, "name": "Bob", "amount": 3, "born": None},
    ]
    assert list(rows[0]) == ["id", "name", "amount", "born"]


@pytest.mark.postgres
async def test_postgres_types_become_iso_strings_and_numbers(env: StepEnvironment, postgres: PostgresServer) -> None:
    url = f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
    rows = await env.run(
        query,
        {
            "url": url,
            "sql": "SELECT CAST('12.50' AS NUMERIC(10,2)) AS amount, DATE '2026-12-07' AS day, "
            "TIMESTAMP '2026-12-07 10:30:00' AS at, CAST(:n AS INTEGER) AS n",
            "params": {"n": 7},
        },
    )
    assert rows == [{"amount": 12.5, "day": "2026-12-07", "at": "2026-12-07T10:30:00", "n": 7}]


async def test_an_injection_string_is_stored_as_data(env: StepEnvironment, db_url: str) -> None:
    target = await _setup(env, db_url)
    evil = "x'); DROP TABLE people; --"
    await env.run(
        execute, {**target, "sql": "INSERT INTO people (id, name) VALUES (1, :name)", "params": {"name": evil}}
    )
    found = await env.run(
        query, {**target, "sql": "SELECT name FROM people WHERE name = :name", "params": {"name": evil}}
    )
    assert found == [{"name": evil}]
    assert await env.run(query, {**target, "sql": "SELECT COUNT(*) AS n FROM people"}) == [{"n": 1}]


async def test_bulk_insert_in_batches_and_max_rows(env: StepEnvironment, db_url: str) -> None:
    target = await _setup(env, db_url)
    rows = [{"id": i, "name": f"n{i}", "amount": i / 4} for i in range(2500)]
    rows[10] = {"id": 10, "name": "no amount"}
    out = await env.run(insert, {**target, "table": "people", "rows": rows, "chunk_size": 1000})
    assert out == {"inserted": 2500}
    back = await env.run(query, {**target, "sql": "SELECT id, amount FROM people WHERE id IN (9, 10) ORDER BY id"})
    assert back == [{"id": 9, "amount": 2.25}, {"id": 10, "amount": None}]
    with pytest.raises(StepError) as too_many:
        await env.run(query, {**target, "sql": "SELECT * FROM people", "max_rows": 2000, "chunk_size": 500})
    assert too_many.value.kind == "too_many_rows"
    assert too_many.value.retryable is False


async def test_export_csv_streams_rows_to_a_file(env: StepEnvironment, db_url: str, tmp_path: Path) -> None:
    target = await _setup(env, db_url)
    await env.run(
        execute,
        {
            **target,
            "sql": "INSERT INTO people (id, name) VALUES (:id, :name)",
            "params": [{"id": i, "name": f"n{i}"} for i in range(1, 1201)],
        },
    )
    path = tmp_path / "out" / "people.csv"
    out = await env.run(
        export_csv,
        {
            **target,
            "sql": "SELECT id, name FROM people WHERE id > :min ORDER BY id",
            "params": {"min": 200},
            "path": str(path),
            "chunk_size": 100,
        },
    )
    assert out == {"path": str(path), "rows": 1000, "columns": ["id", "name"]}
    with path.open(newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["id", "name"]
    assert lines[1] == ["201", "n201"]
    assert len(lines) == 1001


async def test_a_transaction_spans_steps_and_rolls_back(env: StepEnvironment, db_url: str) -> None:
    target = await _setup(env, db_url)
    count = {**target, "sql": "SELECT COUNT(*) AS n FROM people"}

    await env.run(begin, {**target, "name": "t1"})
    await env.run(execute, {"transaction": "t1", "sql": "INSERT INTO people (id, name) VALUES (1, 'kept')"})
    assert await env.run(query, {"transaction": "t1", "sql": "SELECT COUNT(*) AS n FROM people"}) == [{"n": 1}]
    await env.run(commit, {"name": "t1"})
    assert await env.run(query, count) == [{"n": 1}]

    await env.run(begin, {**target, "name": "t2"})
    await env.run(insert, {"transaction": "t2", "table": "people", "rows": [{"id": 2, "name": "undone"}]})
    await env.run(rollback, {"name": "t2"})
    assert await env.run(query, count) == [{"n": 1}]

    with pytest.raises(StepError, match="no transaction named 't2'"):
        await env.run(commit, {"name": "t2"})


async def test_a_transaction_left_open_is_rolled_back_when_the_execution_ends(
    env: StepEnvironment, db_url: str, tmp_path: Path
) -> None:
    target = await _setup(env, db_url)
    await env.run(begin, {**target})
    await env.run(execute, {"transaction": "main", "sql": "INSERT INTO people (id, name) VALUES (1, 'lost')"})
    await env.aclose()  # the execution ends without db.commit
    other = StepEnvironment(secrets=env.secrets, artifacts_dir=tmp_path / "other")
    try:
        assert await other.run(query, {**target, "sql": "SELECT COUNT(*) AS n FROM people"}) == [{"n": 0}]
    finally:
        await other.aclose()


async def test_sql_errors_are_clear_and_not_retryable(env: StepEnvironment, db_url: str) -> None:
    target = await _setup(env, db_url)
    with pytest.raises(StepError) as missing:
        await env.run(query, {**target, "sql": "SELECT * FROM nowhere"})
    assert missing.value.kind == "sql"
    assert missing.value.retryable is False
    assert "nowhere" in missing.value.message
    await env.run(execute, {**target, "sql": "INSERT INTO people (id) VALUES (1)"})
    with pytest.raises(StepError) as duplicate:
        await env.run(execute, {**target, "sql": "INSERT INTO people (id) VALUES (1)"})
    assert duplicate.value.kind == "integrity"
    assert duplicate.value.retryable is False


async def test_the_password_never_shows_in_errors_or_logs(env: StepEnvironment) -> None:
    url = "postgresql://robot@127.0.0.1:1/erp"
    with pytest.raises(StepError) as failed:
        await env.run(query, {"url": url, "credential": "db", "sql": "SELECT 1"})
    assert failed.value.kind == "connection"
    assert failed.value.retryable is True
    assert "postgresql+asyncpg://robot:***@127.0.0.1:1/erp" in failed.value.message
    assert PASSWORD not in str(failed.value.to_dict())
    assert PASSWORD not in str(env.logs)


def test_bad_targets_are_refused_before_a_run() -> None:
    from agent.steps.db._models import ExecuteParams, InsertParams

    with pytest.raises(ValueError, match="credential"):
        ExecuteParams.model_validate({"url": "postgresql://u:pw@h/db", "sql": "x"})
    with pytest.raises(ValueError, match="either 'url' or 'transaction'"):
        ExecuteParams.model_validate({"sql": "x"})
    with pytest.raises(ValueError, match="table"):
        InsertParams.model_validate({"url": "sqlite://", "table": "a; drop", "rows": []})
