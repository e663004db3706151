"""Migration 0013: the `ai_usage` table matches its model (columns and indexes), and goes down and
up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from orchestrator.db.migrate import alembic_config, upgrade
from orchestrator.models.ai import AiUsage


async def test_0013_adds_ai_usage_as_the_model_has_it_and_goes_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orchestrator.db'}"
    await upgrade(url)
    engine = create_engine(f"sqlite:///{tmp_path / 'orchestrator.db'}")
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            assert {c["name"] for c in found.get_columns("ai_usage")} == set(AiUsage.__table__.c.keys())
            model_indexes = {i.name for i in AiUsage.__table__.indexes}
            assert {i["name"] for i in found.get_indexes("ai_usage")} == model_indexes
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
        with engine.connect() as connection:
            assert "ai_usage" not in inspect(connection).get_table_names()
        await upgrade(url)
    finally:
        engine.dispose()
