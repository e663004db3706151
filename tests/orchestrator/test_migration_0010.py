"""Migration 0010 adds invitations, login lockouts, the instance admin flag and each account's home
organisation (its first membership's), and keeps users."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from alembic import command
from fastapi import FastAPI

from orchestrator.db.migrate import alembic_config, upgrade_sync
from tests.orchestrator._identity_helpers import login


@pytest.fixture
def database_url() -> None:
    """SQLite only (the file is read directly); the migration is plain DDL on PostgreSQL too."""
    return None


async def test_down_and_up_again_keeps_the_users(app: FastAPI, client: Any, tenant: Any, settings: Any) -> None:
    owner = await tenant()
    url = settings.resolved_database_url
    path = url.split("///", 1)[1]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0009")
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(users)")]
        assert {"failed_logins", "locked_until"} <= set(columns)
        assert "is_instance_admin" not in columns
        assert raw.execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('invitations', 'login_lockouts')"
        ).fetchone() == (0,)
    await asyncio.to_thread(upgrade_sync, url)
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(users)")]
        assert "failed_logins" not in columns
        assert "locked_until" not in columns
        assert raw.execute(
            "SELECT is_instance_admin, home_org_id FROM users WHERE email = ?", (owner.email,)
        ).fetchone() == (0, owner.org_id.hex)  # home: its first organisation
    assert (await login(client, owner.email)).status_code == 200
