"""Migration 0011 on a database an older orchestrator wrote: its credentials keep the use they
allowed (every role, every workflow), and its unkeyed audit chains keep verifying, switching to
keyed entries at their next entry."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text

from orchestrator.db.migrate import alembic_config, upgrade_sync
from orchestrator.services.audit import verify_chain
from tests.orchestrator._identity_helpers import fast_hashing  # noqa: F401 - fixture
from tests.orchestrator._vault_helpers import audit_entries, triggers_bypassed, verify
from tests.orchestrator.test_audit_keyed import _reseal_from, _rows

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def database_url() -> None:
    """SQLite only (the file is read directly); the migration adds plain columns on PostgreSQL too."""
    return None


async def test_old_credentials_stay_usable_and_old_chains_verify_up_to_the_switch(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, settings: Any
) -> None:
    owner = await tenant()
    created = await client.post(
        "/api/v1/credentials",
        headers=owner.headers,
        json={"name": "legacy", "kind": "token", "value": {"token": "tok-legacy-123456"}},
    )
    assert created.status_code == 201, created.text
    await audit_entries(app, owner.org_id, 3)
    chain = str(owner.org_id)
    rows = await _rows(app, chain)
    async with triggers_bypassed(app) as conn:  # the chain as an older release sealed it: plain SHA-256
        await _reseal_from(app, conn, rows, 0, drop_key=True)
        await conn.execute(
            text("UPDATE audit_heads SET hash = :hash WHERE chain = :chain"), {"hash": rows[-1].hash, "chain": chain}
        )

    url = settings.resolved_database_url
    path = url.split("///", 1)[1]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0011-1")
    with sqlite3.connect(path) as raw:
        assert "access" not in [row[1] for row in raw.execute("PRAGMA table_info(credentials)")]
        assert "keyed_from" not in [row[1] for row in raw.execute("PRAGMA table_info(audit_heads)")]
        triggers = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        # An organisation an older release created without any audit entry (`rpa admin create`).
        quiet = uuid.uuid4()
        columns = {row[1]: row for row in raw.execute("PRAGMA table_info(organisations)")}
        values = {
            "id": quiet.hex,
            "name": "Quiet",
            "slug": f"quiet-{quiet.hex[:6]}",
            "created_at": "2026-01-01",
            "updated_at": "2026-01-01",
            "password_policy": "{}",
            "ip_allowlist": "[]",
        }
        values.update({name: "{}" for name, row in columns.items() if row[3] and name not in values})
        raw.execute(
            f"INSERT INTO organisations ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
    await asyncio.to_thread(upgrade_sync, url)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT access FROM credentials").fetchall() == [
            ('{"roles": ["*"], "workflows": [], "categories": [], "tags": []}',)
        ]
        assert raw.execute("SELECT seq, keyed_from FROM audit_heads WHERE chain = ?", (chain,)).fetchall() == [
            (len(rows), len(rows) + 1)
        ]
        assert raw.execute("SELECT seq, keyed_from FROM audit_heads WHERE chain = ?", (str(quiet),)).fetchall() == [
            (0, 1)
        ]
        # Columns were added, not rebuilt: the append-only triggers are all still there.
        assert {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")} == triggers

    await audit_entries(app, owner.org_id, 2)
    result = await verify(client, owner.headers)
    assert result["ok"] is True, result
    assert (result["unkeyed"], result["keyed_from"], result["head_seq"]) == (len(rows), len(rows) + 1, len(rows) + 2)
    listed = (await client.get("/api/v1/credentials", headers=owner.headers)).json()["items"]
    assert listed[0]["access"]["roles"] == ["*"]
    async with app.state.db.transaction() as session:  # the quiet organisation's empty chain verifies
        quiet_result = await verify_chain(session, str(quiet), expect_entries=True)
    assert quiet_result.ok, quiet_result
