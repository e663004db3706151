"""Migration 0016: the trigger tables match their models and it goes down and up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from orchestrator.db.migrate import alembic_config, upgrade
from orchestrator.models.triggers import Trigger, TriggerEvent


async def test_0016_adds_the_trigger_tables_as_the_models_have_them_and_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url, "0003")  # the workflow tables, on their own branch
    await upgrade(url, "0015")
    await upgrade(url)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            for model in (Trigger, TriggerEvent):
                table = model.__table__
                assert {c["name"] for c in found.get_columns(table.name)} == set(table.c.keys())
                assert {i["name"] for i in found.get_indexes(table.name)} == {i.name for i in table.indexes}
            assert {tuple(u["column_names"]) for u in found.get_unique_constraints("trigger_events")} == {
                ("trigger_id", "key")
            }
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0015")
        with engine.connect() as connection:
            assert not {"triggers", "trigger_events"} & set(inspect(connection).get_table_names())
        await upgrade(url)
        with engine.connect() as connection:
            assert {"triggers", "trigger_events"} <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
