"""The audit log: hash-chained, append-only in the database, serialised under concurrency,
listed with filters, and verified: an edited, removed, forged or moved row is reported."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from orchestrator.models.audit import AuditEntry, AuditHead
from orchestrator.services.audit import GENESIS, Actor, chain_of, entry_hash, record, verify_chain
from tests.orchestrator._vault_helpers import audit_entries, triggers_bypassed, verify

AUDIT = "/api/v1/audit"


async def _rows(app: FastAPI, org_id: uuid.UUID) -> list[AuditEntry]:
    async with app.state.db.transaction() as session:
        return list(
            (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.chain == str(org_id)).order_by(AuditEntry.seq)
                )
            ).all()
        )


async def _org_with_entries(app: FastAPI, tenant: Any, count: int = 5) -> tuple[Any, list[AuditEntry]]:
    owner = await tenant()
    await audit_entries(app, owner.org_id, count)
    return owner, await _rows(app, owner.org_id)


async def test_entries_chain_from_genesis_and_the_head_follows(app: FastAPI, tenant: Any) -> None:
    owner, rows = await _org_with_entries(app, tenant, 4)
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    for row in rows:
        assert entry_hash(row) == row.hash
    async with app.state.db.transaction() as session:
        head = await session.get(AuditHead, str(owner.org_id))
    assert head is not None
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash)


async def test_an_intact_chain_verifies(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner, rows = await _org_with_entries(app, tenant)
    result = await verify(client, owner.headers)
    assert result == {
        "chain": str(owner.org_id),
        "ok": True,
        "checked": len(rows),
        "head_seq": len(rows),
        "problems": [],
        "truncated": False,
        "keyed_from": 1,
        "unkeyed": 0,
        "checkpoint_seq": None,
    }


async def test_the_database_refuses_update_and_delete(app: FastAPI, tenant: Any) -> None:
    owner, rows = await _org_with_entries(app, tenant, 2)
    statements = [
        f"UPDATE audit_log SET action = 'forged' WHERE id = '{_db_id(app, rows[0].id)}'",
        f"DELETE FROM audit_log WHERE id = '{_db_id(app, rows[0].id)}'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_heads",
        f"UPDATE audit_heads SET seq = 0 WHERE chain = '{owner.org_id}'",
    ]
    if not app.state.db.is_sqlite:
        statements += ["TRUNCATE audit_log", "TRUNCATE audit_heads"]
    for statement in statements:
        with pytest.raises(DBAPIError, match=r"append-only|only move forward"):
            async with app.state.db.engine.begin() as conn:
                await conn.execute(text(statement))
    assert [(r.id, r.hash) for r in await _rows(app, owner.org_id)] == [(r.id, r.hash) for r in rows]


def _db_id(app: FastAPI, entry_id: uuid.UUID) -> str:
    # SQLAlchemy stores UUIDs as 32 hex digits on SQLite and as native uuid on PostgreSQL.
    return entry_id.hex if app.state.db.is_sqlite else str(entry_id)


async def test_an_edited_field_is_found(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner, rows = await _org_with_entries(app, tenant)
    target = rows[2]
    async with triggers_bypassed(app) as conn:
        await conn.execute(text(f"UPDATE audit_log SET actor = 'someone-else' WHERE id = '{_db_id(app, target.id)}'"))
    result = await verify(client, owner.headers)
    assert result["ok"] is False
    assert result["problems"] == [{"seq": target.seq, "problem": "edited", "id": str(target.id)}]


async def test_an_edit_re_sealed_with_a_fresh_hash_is_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _org_with_entries(app, tenant)
    target = rows[1]
    target.summary = {"n": "rewritten"}
    forged_hash = entry_hash(target)
    async with triggers_bypassed(app) as conn:
        await conn.execute(
            text("UPDATE audit_log SET summary = :summary, hash = :hash WHERE id = :id"),
            {"summary": '{"n": "rewritten"}', "hash": forged_hash, "id": _db_id(app, target.id)},
        )
    result = await verify(client, owner.headers)
    assert result["problems"] == [{"seq": target.seq, "problem": "edited", "id": str(target.id)}]


@pytest.mark.parametrize("position", ["middle", "last"])
async def test_a_deleted_row_is_found(app: FastAPI, client: httpx.AsyncClient, tenant: Any, position: str) -> None:
    owner, rows = await _org_with_entries(app, tenant)
    target = rows[2] if position == "middle" else rows[-1]
    async with triggers_bypassed(app) as conn:
        await conn.execute(text(f"DELETE FROM audit_log WHERE id = '{_db_id(app, target.id)}'"))
    result = await verify(client, owner.headers)
    assert result["ok"] is False
    assert result["problems"] == [{"seq": target.seq, "problem": "missing", "id": None}]


async def test_a_forged_row_appended_with_a_valid_hash_is_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _org_with_entries(app, tenant)
    last = rows[-1]
    forged = AuditEntry(
        id=uuid.uuid4(),
        chain=last.chain,
        seq=last.seq + 1,
        org_id=owner.org_id,
        actor_id=None,
        actor="ghost",
        action="credential.delete",
        target_type="credential",
        target_id="x",
        ip=None,
        request_id=None,
        summary={},
        created_at=datetime.now(UTC),
        prev_hash=last.hash,
        hash="",
    )
    forged.hash = entry_hash(forged)
    async with app.state.db.transaction() as session:  # INSERT is allowed: the log is append-only
        session.add(forged)
    result = await verify(client, owner.headers)
    assert result["problems"] == [{"seq": forged.seq, "problem": "inserted", "id": str(forged.id)}]


async def test_a_row_pointing_at_another_predecessor_is_reordered(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _org_with_entries(app, tenant)
    moved = rows[3]
    moved.prev_hash = rows[1].hash  # as if it followed row 2, skipping row 3
    resealed = entry_hash(moved)
    async with triggers_bypassed(app) as conn:
        await conn.execute(
            text("UPDATE audit_log SET prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"prev": moved.prev_hash, "hash": resealed, "id": _db_id(app, moved.id)},
        )
    result = await verify(client, owner.headers)
    problems = {(p["seq"], p["problem"]) for p in result["problems"]}
    assert (moved.seq, "reordered") in problems


async def test_concurrent_writers_share_one_chain(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    before = len(await _rows(app, owner.org_id))
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/credentials",
                headers=owner.headers,
                json={"name": f"c{i}", "kind": "token", "value": {"token": f"tok-chain-{i}"}},
            )
            for i in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20
    rows = await _rows(app, owner.org_id)
    assert [row.seq for row in rows] == list(range(1, before + 21))
    result = await verify(client, owner.headers)
    assert result["ok"] is True
    assert result["checked"] == before + 20


async def test_record_in_parallel_sessions_without_http(app: FastAPI) -> None:
    async def one(index: int) -> None:
        async with app.state.db.transaction() as session:
            await record(session, org_id=None, actor=Actor(None, "system"), action="system.tick", summary={"i": index})

    await asyncio.gather(*(one(i) for i in range(20)))
    async with app.state.db.transaction() as session:
        result = await verify_chain(session, chain_of(None))
        seqs = (
            await session.scalars(select(AuditEntry.seq).where(AuditEntry.chain == "system").order_by(AuditEntry.seq))
        ).all()
    assert result.ok
    assert list(seqs) == list(range(1, len(seqs) + 1))
    assert len(seqs) >= 20


async def test_listing_filters_newest_first(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    await audit_entries(app, owner.org_id, 3, action="thing.made")
    await audit_entries(app, owner.org_id, 2, action="thing.gone")
    everything = (await client.get(AUDIT, headers=owner.headers)).json()
    seqs = [item["seq"] for item in everything["items"]]
    assert seqs == sorted(seqs, reverse=True)

    async def names(**params: Any) -> list[str]:
        response = await client.get(AUDIT, headers=owner.headers, params=params)
        assert response.status_code == 200, response.text
        return [f"{item['action']}:{item['target_id']}" for item in response.json()["items"]]

    assert await names(action="thing.gone") == ["thing.gone:1", "thing.gone:0"]
    assert await names(action="thing.*", target_id="2") == ["thing.made:2"]
    assert len(await names(actor="tester", target_type="thing")) == 5
    assert await names(q="GONE", limit=1) == ["thing.gone:1"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert await names(**{"from": later}) == []
    assert len(await names(to=later, action="thing.*")) == 5
    page = (
        await client.get(AUDIT, headers=owner.headers, params={"action": "thing.*", "limit": 2, "offset": 2})
    ).json()
    assert (page["total"], len(page["items"])) == (5, 2)
    one = everything["items"][0]
    fetched = await client.get(f"{AUDIT}/{one['id']}", headers=owner.headers)
    assert fetched.json() == one


async def test_reading_needs_audit_read_and_stays_in_the_organisation(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _org_with_entries(app, tenant, 2)
    designer = await tenant(org_id=owner.org_id, role="designer")  # no audit:read
    stranger, _ = await _org_with_entries(app, tenant, 1)
    for path in (AUDIT, f"{AUDIT}/verify", f"{AUDIT}/{rows[0].id}"):
        assert (await client.get(path, headers=designer.headers)).status_code == 403
    assert (await client.get(f"{AUDIT}/{rows[0].id}", headers=stranger.headers)).status_code == 404
    theirs = (await client.get(AUDIT, headers=stranger.headers)).json()["items"]
    assert {item["id"] for item in theirs}.isdisjoint({str(row.id) for row in rows})
    assert (await verify(client, stranger.headers))["chain"] == str(stranger.org_id)
