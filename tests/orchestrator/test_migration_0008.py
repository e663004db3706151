"""Migration 0008 adds `executions.previous_agent_id`, empty for the rows an older orchestrator wrote."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

import pytest
from alembic import command
from fastapi import FastAPI

from orchestrator.db.migrate import alembic_config, upgrade_sync
from orchestrator.services.execution_states import State
from tests.orchestrator._execution_helpers import load, make_execution, make_workflow


@pytest.fixture
def database_url() -> None:
    """SQLite only (the file is read directly); the migration is one plain column on PostgreSQL too."""
    return None


async def test_the_column_goes_and_comes_back_empty(app: FastAPI, tenant: Any, settings: Any) -> None:
    owner = await tenant()
    execution_id = await make_execution(
        app, owner.org_id, await make_workflow(app, owner.org_id), state=State.RUNNING, agent_id=uuid.uuid4()
    )
    url = settings.resolved_database_url
    path = url.split("///", 1)[1]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0008-1")  # as an older orchestrator left it
    with sqlite3.connect(path) as raw:
        assert "previous_agent_id" not in [row[1] for row in raw.execute("PRAGMA table_info(executions)")]
        assert raw.execute("SELECT state FROM executions").fetchall() == [("running",)]  # the rows stay
    await asyncio.to_thread(upgrade_sync, url)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT previous_agent_id FROM executions").fetchall() == [(None,)]
    assert (await load(app, owner.org_id, execution_id)).previous_agent_id is None
