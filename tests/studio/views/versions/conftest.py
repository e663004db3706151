"""The versions views against a real orchestrator: the test app served by uvicorn on 127.0.0.1
(`live`), an organisation with its owner (`tenant`), and a workflow with two published versions."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.client import ApiClient
from tests.orchestrator._identity_helpers import fast_hashing
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import Member, TenantFactory, app, settings, sqlite_template, tenant

__all__ = ["app", "fast_hashing", "live", "settings", "sqlite_template", "tenant"]  # fixtures used here

VERSION_1: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Invoices",
    "inputs": {"month": {"type": "string", "required": True}},
    "outputs": {"total": "{{ steps.sum.output }}"},
    "nodes": [
        {"id": "start", "type": "core.log", "params": {"message": "month {{ inputs.month }}"}, "ui": {"x": 0, "y": 0}},
        {"id": "fetch", "type": "core.noop", "params": {"value": 1}, "ui": {"x": 0, "y": 120}},
        {"id": "old", "type": "core.log", "params": {"message": "going away"}, "ui": {"x": 240, "y": 120}},
        {"id": "sum", "type": "core.noop", "params": {"value": 2}, "ui": {"x": 0, "y": 240}},
    ],
    "edges": [{"from": "start", "to": "fetch"}, {"from": "start", "to": "old"}, {"from": "fetch", "to": "sum"}],
}


def version_2() -> dict[str, Any]:
    """Version 1 with `fetch`'s param changed, `old` removed, `mail` added and `sum` moved."""
    document = copy.deepcopy(VERSION_1)
    document["nodes"][1]["params"]["value"] = 42
    document["nodes"] = [n for n in document["nodes"] if n["id"] != "old"]
    document["nodes"][2]["ui"] = {"x": 300, "y": 300}
    document["nodes"].append(
        {"id": "mail", "type": "core.log", "params": {"message": "sent"}, "ui": {"x": 0, "y": 360}}
    )
    document["edges"] = [e for e in document["edges"] if e["to"] != "old"] + [{"from": "sum", "to": "mail"}]
    return document


@dataclass
class Published:
    """A workflow with versions 1 and 2 (the draft equal to version 2), and a client of its owner."""

    workflow_id: str
    member: Member
    client: ApiClient
    http: httpx.AsyncClient


@pytest.fixture
async def published(live: httpx.AsyncClient, tenant: TenantFactory) -> Published:
    member = await tenant()
    created = await live.post(
        "/api/v1/workflows", json={"name": "Invoices", "document": VERSION_1}, headers=member.headers
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    url = f"/api/v1/workflows/{workflow_id}"
    first = await live.post(f"{url}/publish", json={"note": "first cut"}, headers=member.headers)
    assert first.status_code == 201, first.text
    patched = await live.patch(url, json={"document": version_2()}, headers=member.headers)
    assert patched.status_code == 200, patched.text
    second = await live.post(f"{url}/publish", json={"note": "adds the e-mail"}, headers=member.headers)
    assert second.status_code == 201, second.text
    token = member.headers["Authorization"].removeprefix("Bearer ")
    client = ApiClient(str(live.base_url), access_token=token, refresh_token=member.refresh_token)
    return Published(workflow_id, member, client, live)


@pytest.fixture
def database_url() -> None:
    """SQLite only: the studio speaks to the API; the database behind it is not what is tested here."""
    return None


@pytest.fixture(scope="session")
def screenshots(shots: Path) -> Path:
    """Where the diff and AI screenshots go: `docs/images/refresh_studio.py` points
    `STUDIO_SCREENSHOTS` at docs/images; otherwise the suite's `build/screenshots/studio`."""
    folder = Path(os.environ.get("STUDIO_SCREENSHOTS", shots))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
