"""The shipped sources run under the framework: the app registers them at start, and a file
dropped into a watched folder starts one execution through the API-made trigger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from orchestrator.triggers import source_kinds
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import create, eventually, executions_of, workflow


async def test_the_app_registers_the_shipped_sources(app: FastAPI) -> None:
    assert {"email", "files", "database"} <= set(source_kinds())


async def test_a_file_dropped_in_a_watched_folder_starts_one_execution(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, tmp_path: Path
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    folder = tmp_path / "inbox"
    folder.mkdir()
    await create(
        client,
        owner.headers,
        workflow_id,
        "files",
        config={"url": str(folder), "patterns": ["*.pdf"]},
        inputs={"customer": "{{ event.path }}"},
    )

    async def started() -> list[Any] | None:
        return await executions_of(app, owner.org_id, workflow_id) or None

    async def watching() -> bool:
        # the watcher is up once the trigger's state shows its status
        shown = await client.get(f"/api/v1/workflows/{workflow_id}/triggers", headers=owner.headers)
        return any((t.get("state") or {}).get("status") for t in shown.json().get("items", shown.json()))

    await eventually(watching)
    (folder / "notes.txt").write_text("not a pdf")
    (folder / "invoice-1.pdf").write_bytes(b"%PDF-1.4 one")
    await eventually(started)
    await asyncio.sleep(0.5)  # a second event for the same file would have come by now
    executions = await executions_of(app, owner.org_id, workflow_id)
    assert len(executions) == 1
    assert executions[0].trigger_type == "files"
    assert executions[0].inputs["customer"].endswith("invoice-1.pdf")
