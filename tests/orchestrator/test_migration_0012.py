"""Migration 0012: the `start_keys` table and the partial index of what each agent holds, which
the handshake's read of an agent's executions uses; down and up again."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from orchestrator.db.migrate import alembic_config, upgrade
from orchestrator.models.executions import HELD_SQL, Execution
from shared.states import HELD_STATES


async def test_0012_adds_the_start_keys_and_the_held_index_and_goes_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orchestrator.db'}"
    await upgrade(url)
    engine = create_engine(f"sqlite:///{tmp_path / 'orchestrator.db'}")
    try:
        with engine.connect() as connection:
            assert "start_keys" in inspect(connection).get_table_names()
            query = select(Execution.id).where(Execution.agent_id == uuid.uuid4(), text(HELD_SQL))
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
            assert "ix_executions_held_agent" in str(plan)
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0012-1")
        with engine.connect() as connection:
            assert "start_keys" not in inspect(connection).get_table_names()
            assert "ix_executions_held_agent" not in {i["name"] for i in inspect(connection).get_indexes("executions")}
        await upgrade(url)
    finally:
        engine.dispose()


def test_the_held_states_in_sql_are_the_held_states() -> None:
    # The partial index needs its condition as literal SQL: it must still name shared.states' group.
    named = set(re.findall(r"'([a-z_]+)'", HELD_SQL))
    assert named == {state.value for state in HELD_STATES}
