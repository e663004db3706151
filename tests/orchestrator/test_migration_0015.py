"""Migration 0015: the asset tables and `workflow_versions.assets` match their models, existing
versions get an empty map, and it goes down and up again."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from orchestrator.db.migrate import alembic_config, upgrade
from orchestrator.models.workflows import WorkflowAssetBlob, WorkflowDraftAsset, WorkflowVersion


async def test_0015_adds_assets_as_the_models_have_them_and_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url, "0003")  # the workflow tables, on their own branch
    await upgrade(url, "0014")
    with sqlite3.connect(path) as db:  # a version published before assets existed
        org, workflow = uuid.uuid4().hex, uuid.uuid4().hex
        db.execute(
            "INSERT INTO organisations (id, name, slug, password_policy, ip_allowlist, created_at, updated_at)"
            " VALUES (?, 'O', 'o', '{}', '[]', '2026-01-01', '2026-01-01')",
            (org,),
        )
        db.execute(
            "INSERT INTO workflows (id, org_id, name, description, tags, draft, draft_revision, created_at, updated_at)"
            " VALUES (?, ?, 'W', '', '[]', '{}', 1, '2026-01-01', '2026-01-01')",
            (workflow, org),
        )
        db.execute(
            "INSERT INTO workflow_versions (id, org_id, workflow_id, number, document, note, created_at)"
            " VALUES (?, ?, ?, 1, '{}', '', '2026-01-01')",
            (uuid.uuid4().hex, org, workflow),
        )
    await upgrade(url)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            for model in (WorkflowAssetBlob, WorkflowDraftAsset):
                table = model.__table__
                assert {c["name"] for c in found.get_columns(table.name)} == set(table.c.keys())
                assert {i["name"] for i in found.get_indexes(table.name)} == {i.name for i in table.indexes}
            assert {c["name"] for c in found.get_columns("workflow_versions")} == set(
                WorkflowVersion.__table__.c.keys()
            )
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT assets FROM workflow_versions").fetchall() == [("{}",)]
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0014")
        with engine.connect() as connection:
            found = inspect(connection)
            assert "workflow_asset_blobs" not in found.get_table_names()
            assert "assets" not in {c["name"] for c in found.get_columns("workflow_versions")}
        await upgrade(url)
    finally:
        engine.dispose()
