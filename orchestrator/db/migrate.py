"""Alembic migrations, applied at start-up and by `rpa db upgrade`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from orchestrator.settings import private_sqlite

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_sync(url: str, revision: str = "heads") -> None:
    # Every start and every command migrates first: the SQLite file is made here, private (0600).
    private_sqlite(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "heads") -> None:
    """Apply migrations up to `revision` (the env script runs its own event loop: use a thread)."""
    await asyncio.to_thread(upgrade_sync, url, revision)
