"""Migration 0017: `workflows.sla_seconds` appears, keeps the rows, and goes down and up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from orchestrator.db.migrate import alembic_config, upgrade


def _columns(engine_url: str) -> set[str]:
    engine = create_engine(engine_url)
    try:
        with engine.connect() as connection:
            return {c["name"] for c in inspect(connection).get_columns("workflows")}
    finally:
        engine.dispose()


async def test_0017_adds_the_sla_column_and_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    assert "sla_seconds" in _columns(f"sqlite:///{path}")
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0016")
    assert "sla_seconds" not in _columns(f"sqlite:///{path}")
    await upgrade(url)
    assert "sla_seconds" in _columns(f"sqlite:///{path}")
