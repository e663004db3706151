"""Migration 0007 fills the execution counters from the rows an older orchestrator wrote."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from alembic import command
from fastapi import FastAPI

from orchestrator.db.migrate import alembic_config, upgrade_sync
from orchestrator.services.execution_states import State
from tests.orchestrator._execution_helpers import load, make_execution, make_workflow
from tests.orchestrator.test_execution_events import append, event, started


@pytest.fixture
def database_url() -> None:
    """SQLite only (the file is read directly); the upgrade SQL is plain and the same on PostgreSQL."""
    return None


async def test_history_and_stored_seq_are_filled_from_the_rows(app: FastAPI, tenant: Any, settings: Any) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    running = await make_execution(app, owner.org_id, workflow_id, state=State.RUNNING)
    queued = await make_execution(app, owner.org_id, workflow_id)
    await append(app, owner.org_id, running, [started(1), event(2), event(5)])  # 3 and 4 not yet stored
    before = await load(app, owner.org_id, running)
    assert (before.history_seq, before.last_seq, before.stored_seq) == (3, 2, 5)  # queued, assigned, running

    url = settings.resolved_database_url
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0007-1")  # as an older orchestrator left it
    path = url.split("///", 1)[1]
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(executions)")]
    assert "history_seq" not in columns
    assert "stored_seq" not in columns
    await asyncio.to_thread(upgrade_sync, url)

    with sqlite3.connect(path) as raw:
        counters = dict(
            (row[0], row[1:]) for row in raw.execute("SELECT id, history_seq, stored_seq, last_seq FROM executions")
        )
    assert counters[running.hex] == (3, 5, 2)
    assert counters[queued.hex] == (1, 0, 0)
