"""Helpers for the identity and access tests: log in over HTTP, read and poke rows directly."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select, update

from orchestrator.models import AuditEntry, User
from orchestrator.security import passwords
from tests.orchestrator.conftest import PASSWORD

API = "/api/v1"
NEW_PASSWORD = "Brand-New-Secret-77-words"


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with test-sized parameters: these tests are about the rules around passwords, and
    the production cost (~0.1-0.4 s per hash on a 2-core machine) would make them slow."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("not a real password"))


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password, **extra})


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def audit_actions(app: FastAPI, org_id: uuid.UUID | None = None) -> list[AuditEntry]:
    async with app.state.db.transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)
        if org_id is not None:
            query = query.where(AuditEntry.org_id == org_id)
        return list((await session.scalars(query)).all())


async def set_user(app: FastAPI, user_id: uuid.UUID, **values: Any) -> None:
    async with app.state.db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(**values))


async def get_user(app: FastAPI, user_id: uuid.UUID) -> User:
    async with app.state.db.transaction() as session:
        return await session.get_one(User, user_id)


async def patch_org(client: httpx.AsyncClient, headers: dict[str, str], **changes: Any) -> httpx.Response:
    response = await client.patch(f"{API}/orgs/current", json=changes, headers=headers)
    assert response.status_code == 200, response.text
    return response
