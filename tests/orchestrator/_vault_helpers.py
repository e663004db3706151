"""Helpers for the vault and audit tests: distinctive secret values, reveal, and raw database
access that bypasses the audit log's append-only triggers (to simulate an attacker with
database access)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from orchestrator.services import vault
from orchestrator.services.audit import Actor, record

FILE_BYTES = b"-----BEGIN PRIVATE KEY-----\nfile-secret-" + uuid.uuid4().hex.encode() + b"\n-----END-----\n"


def distinctive_values() -> dict[str, dict[str, Any]]:
    """One value per kind, each string unmistakable in a byte scan."""
    tag = uuid.uuid4().hex[:12]
    return {
        "username_password": {"username": f"user-{tag}-alice", "password": f"pw-{tag}-Tr0ub4dor&3"},
        "token": {"token": f"tok-{tag}-ghp_0123456789abcdef"},
        "key_value": {"values": {"api_host": f"host-{tag}.internal", "api_key": f"key-{tag}-sk_live_42"}},
        "file": {"filename": f"id-{tag}.pem", "content_base64": base64.b64encode(FILE_BYTES).decode()},
    }


def secret_strings(value: dict[str, Any]) -> list[str]:
    """The strings of a value that must never appear anywhere (filenames and hosts included)."""
    out: list[str] = []
    for item in value.values():
        if isinstance(item, dict):
            out.extend(item.values())
        else:
            out.append(item)
    return out


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, kind: str, value: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/credentials", headers=headers, json={"name": name, "kind": kind, "value": value, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def reveal(app: FastAPI, org_id: uuid.UUID, names: set[str]) -> dict[str, dict[str, Any]]:
    async with app.state.db.transaction() as session:
        ring = vault.keyring_for(app.state.settings, app.state.master_key)
        return await vault.reveal(session, org_id, names, ring)


async def audit_entries(app: FastAPI, org_id: uuid.UUID | None, count: int, action: str = "test.event") -> None:
    for index in range(count):
        async with app.state.db.transaction() as session:
            await record(
                session,
                org_id=org_id,
                actor=Actor(None, "tester", "127.0.0.1", f"req-{index}"),
                action=action,
                target_type="thing",
                target_id=str(index),
                summary={"n": index},
            )


def is_sqlite(app: FastAPI) -> bool:
    return bool(app.state.db.is_sqlite)


@asynccontextmanager
async def triggers_bypassed(app: FastAPI) -> AsyncIterator[Any]:
    """A connection on which the append-only triggers are off (restored on exit)."""
    engine = app.state.db.engine
    if is_sqlite(app):
        async with engine.begin() as conn:
            saved = (
                await conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name IN ('audit_log', 'audit_heads')"
                    )
                )
            ).all()
            assert saved, "the append-only triggers are missing"
            for name, _sql in saved:
                await conn.execute(text(f"DROP TRIGGER {name}"))
            yield conn
            for _name, sql in saved:
                await conn.execute(text(sql))
    else:
        async with engine.begin() as conn:
            for table in ("audit_log", "audit_heads"):
                await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            yield conn
            for table in ("audit_log", "audit_heads"):
                await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


async def verify(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/audit/verify", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
