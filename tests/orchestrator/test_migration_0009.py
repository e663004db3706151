"""Migration 0009 drops the two indexes whose column a composite index already starts with; the
queries by organisation and by audit chain still go by an index."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from alembic import command
from fastapi import FastAPI

from orchestrator.db.migrate import alembic_config, upgrade_sync
from tests.orchestrator._execution_helpers import make_execution, make_workflow

DROPPED = {"ix_executions_org_id", "ix_audit_log_chain"}


@pytest.fixture
def database_url() -> None:
    """SQLite only (the file is read directly); on PostgreSQL the migration is two DROP INDEX."""
    return None


def _indexes(raw: sqlite3.Connection) -> set[str]:
    return {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def _plan(raw: sqlite3.Connection, sql: str) -> str:
    return " | ".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, ("x",)))


async def test_the_indexes_go_and_come_back_and_the_queries_keep_an_index(
    app: FastAPI, tenant: Any, settings: Any
) -> None:
    owner = await tenant()
    await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    url = settings.resolved_database_url
    path = url.split("///", 1)[1]
    with sqlite3.connect(path) as raw:
        assert not _indexes(raw) & DROPPED
        # An organisation's list, newest first; its executions in a state; its audit chain.
        assert (
            _plan(raw, "SELECT * FROM executions WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT 50")
            == "SEARCH executions USING INDEX ix_executions_org_created (org_id=?)"
        )
        assert (
            _plan(raw, "SELECT count(*) FROM executions WHERE org_id = ? AND state = 'queued'")
            == "SEARCH executions USING COVERING INDEX ix_executions_org_state (org_id=? AND state=?)"
        )
        assert (
            _plan(raw, "SELECT * FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 50")
            == "SEARCH audit_log USING INDEX sqlite_autoindex_audit_log_2 (chain=?)"
        )
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0009-1")  # as an older orchestrator left it
    with sqlite3.connect(path) as raw:
        assert _indexes(raw) >= DROPPED
        assert raw.execute("SELECT count(*) FROM executions").fetchone() == (1,)
    await asyncio.to_thread(upgrade_sync, url)
    with sqlite3.connect(path) as raw:
        assert not _indexes(raw) & DROPPED
        assert raw.execute("SELECT count(*) FROM executions").fetchone() == (1,)
