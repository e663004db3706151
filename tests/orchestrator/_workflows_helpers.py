"""Helpers for the workflow tests: small flow documents, API shortcuts, members of any app."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models import AuditEntry
from orchestrator.services.identity import create_org_with_owner, start_session
from orchestrator.settings import Settings

API = "/api/v1"
PASSWORD = "Correct-Horse-42-battery"


def flow(
    name: str = "Flow",
    nodes: list[dict[str, Any]] | None = None,
    edges: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A flow document; by default one valid `core.log` node."""
    nodes = nodes if nodes is not None else [{"id": "hello", "type": "core.log", "params": {"message": "hi"}}]
    return {"schema": "rpa.flow/1", "name": name, "nodes": nodes, "edges": edges or [], **extra}


def log(node_id: str, message: str = "hi") -> dict[str, Any]:
    return {"id": node_id, "type": "core.log", "params": {"message": message}}


def call(node_id: str, target: str) -> dict[str, Any]:
    return {"id": node_id, "type": "flow.call", "params": {"flow": target, "inputs": {}}}


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, document: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, **fields}
    if document is not None:
        body["document"] = document
    response = await client.post(f"{API}/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patch(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, **fields: Any) -> dict[str, Any]:
    response = await client.patch(f"{API}/workflows/{workflow_id}", json=fields, headers=headers)
    assert response.status_code == 200, response.text
    updated: dict[str, Any] = response.json()
    return updated


async def publish(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, note: str = "") -> int:
    response = await client.post(f"{API}/workflows/{workflow_id}/publish", json={"note": note}, headers=headers)
    assert response.status_code == 201, response.text
    number: int = response.json()["number"]
    return number


async def audit_actions(app: FastAPI, org_id: uuid.UUID, target_id: str | None = None) -> list[str]:
    """The audit actions recorded for the organisation (optionally about one target), oldest first."""
    async with app.state.db.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.org_id == org_id).order_by(AuditEntry.seq)
        if target_id is not None:
            query = query.where(AuditEntry.target_id == target_id)
        return [entry.action for entry in (await session.scalars(query)).all()]


async def owner_headers(app: FastAPI) -> tuple[uuid.UUID, dict[str, str]]:
    """A new organisation in `app` and its owner's headers (for apps other than the `app` fixture)."""
    async with app.state.db.transaction() as session:
        org, user = await create_org_with_owner(
            session,
            org_name=f"Org {uuid.uuid4().hex[:6]}",
            email=f"owner-{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
        )
        settings: Settings = app.state.settings
        tokens = await start_session(
            session,
            user=user,
            org_id=org.id,
            signing_key=app.state.signing_key,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
        )
    return org.id, {"Authorization": f"Bearer {tokens.access_token}"}
