"""The keyed audit chain against an attacker who can write the database (triggers dropped) but
does not hold the master key: every rewrite that an unkeyed chain let pass is found, a chain
cut short or deleted is found against the signed checkpoints, and a stray row where the next
entry goes is reported instead of failing every audited action.

Each test first checks that the untouched chain verifies (the control), then tampers for real
on the test's database (SQLite, and PostgreSQL with the `postgres` marker)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from typer.testing import CliRunner

from orchestrator.audit_cli import audit_app
from orchestrator.models.audit import AuditEntry
from orchestrator.security import audit_keys
from orchestrator.services.audit import GENESIS, unkeyed_hash
from orchestrator.services.audit_checkpoints import checkpoint_dir, verify_files, write_checkpoints
from tests.orchestrator._identity_helpers import fast_hashing  # noqa: F401 - fixture
from tests.orchestrator._vault_helpers import audit_entries, triggers_bypassed, verify

pytestmark = pytest.mark.usefixtures("fast_hashing")

_COLUMNS = [column.key for column in AuditEntry.__table__.columns]


async def _rows(app: FastAPI, chain: str) -> list[SimpleNamespace]:
    async with app.state.db.transaction() as session:
        rows = (
            await session.scalars(select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq))
        ).all()
        return [SimpleNamespace(**{c: getattr(row, c) for c in _COLUMNS}) for row in rows]


def _db_id(app: FastAPI, entry_id: uuid.UUID) -> str:
    return entry_id.hex if app.state.db.is_sqlite else str(entry_id)


async def _chain(app: FastAPI, client: httpx.AsyncClient, tenant: Any, count: int = 6) -> tuple[Any, list[Any]]:
    owner = await tenant()
    await audit_entries(app, owner.org_id, count)
    result = await verify(client, owner.headers)
    assert result["ok"] is True, result  # the control: the untouched chain verifies
    return owner, await _rows(app, str(owner.org_id))


async def _checkpoint(app: FastAPI) -> None:
    written = await write_checkpoints(
        app.state.db, checkpoint_dir(app.state.settings.data_dir), audit_keys.active().current
    )
    assert written


def _problems(result: dict[str, Any]) -> set[tuple[int, str]]:
    assert result["ok"] is False, result
    return {(p["seq"], p["problem"]) for p in result["problems"]}


async def _reseal_from(app: FastAPI, conn: Any, rows: list[Any], start: int, *, drop_key: bool) -> str:
    """Recompute every hash from `rows[start]` on, as the attacker can (SHA-256, no key)."""
    prev = rows[start - 1].hash if start else GENESIS
    for row in rows[start:]:
        row.prev_hash = prev
        if drop_key:
            row.key_id = None
        row.hash = prev = unkeyed_hash(row)
        await conn.execute(
            text("UPDATE audit_log SET actor = :actor, prev_hash = :prev, hash = :hash, key_id = :key WHERE id = :id"),
            {"actor": row.actor, "prev": row.prev_hash, "hash": row.hash, "key": row.key_id, "id": _db_id(app, row.id)},
        )
    return prev


@pytest.mark.parametrize("drop_key", [False, True], ids=["key-id-kept", "key-id-dropped"])
async def test_an_edit_with_every_later_hash_recomputed_is_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, drop_key: bool
) -> None:
    owner, rows = await _chain(app, client, tenant)
    rows[2].actor = "someone-else"
    async with triggers_bypassed(app) as conn:
        last = await _reseal_from(app, conn, rows, 2, drop_key=drop_key)
        await conn.execute(
            text("UPDATE audit_heads SET hash = :hash WHERE chain = :chain"), {"hash": last, "chain": str(owner.org_id)}
        )
    problems = _problems(await verify(client, owner.headers))
    assert {(row.seq, "edited") for row in rows[2:]} <= problems


async def test_renumbered_entries_are_found(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner, rows = await _chain(app, client, tenant)
    gone, moved = rows[2], rows[3:]
    async with triggers_bypassed(app) as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": _db_id(app, gone.id)})
        for row in moved:  # close the gap: every later entry one number down, relinked and resealed
            row.seq -= 1
            await conn.execute(
                text("UPDATE audit_log SET seq = :seq WHERE id = :id"), {"seq": row.seq, "id": _db_id(app, row.id)}
            )
        rows = [*rows[:2], *moved]
        last = await _reseal_from(app, conn, rows, 2, drop_key=False)
        await conn.execute(
            text("UPDATE audit_heads SET seq = :seq, hash = :hash WHERE chain = :chain"),
            {"seq": rows[-1].seq, "hash": last, "chain": str(owner.org_id)},
        )
    problems = _problems(await verify(client, owner.headers))
    assert {(row.seq, "edited") for row in moved} <= problems


async def test_an_appended_forgery_with_the_head_moved_is_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _chain(app, client, tenant)
    last = rows[-1]
    forged = SimpleNamespace(
        **{
            **vars(last),
            "id": uuid.uuid4(),
            "seq": last.seq + 1,
            "actor": "ghost",
            "action": "credential.delete",
            "prev_hash": last.hash,
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
    )
    forged.hash = unkeyed_hash(forged)
    async with app.state.db.transaction() as session:  # INSERT and a head moving forward need no bypass
        session.add(AuditEntry(**vars(forged)))
        await session.execute(
            text("UPDATE audit_heads SET seq = :seq, hash = :hash WHERE chain = :chain"),
            {"seq": forged.seq, "hash": forged.hash, "chain": str(owner.org_id)},
        )
    assert _problems(await verify(client, owner.headers)) == {(forged.seq, "edited")}


async def test_a_tail_cut_off_with_the_head_moved_back_is_found_against_the_checkpoint(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _chain(app, client, tenant)
    await _checkpoint(app)
    assert (await verify(client, owner.headers))["checkpoint_seq"] == rows[-1].seq
    keep = rows[:3]
    async with triggers_bypassed(app) as conn:
        for row in rows[3:]:
            await conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": _db_id(app, row.id)})
        await conn.execute(
            text("UPDATE audit_heads SET seq = :seq, hash = :hash WHERE chain = :chain"),
            {"seq": keep[-1].seq, "hash": keep[-1].hash, "chain": str(owner.org_id)},
        )
    assert _problems(await verify(client, owner.headers)) == {(row.seq, "missing") for row in rows[3:]}


async def test_an_organisations_whole_chain_deleted_is_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _chain(app, client, tenant)
    other, _ = await _chain(app, client, tenant)
    await _checkpoint(app)
    for victim in (owner, other):
        async with triggers_bypassed(app) as conn:
            await conn.execute(text("DELETE FROM audit_log WHERE chain = :chain"), {"chain": str(victim.org_id)})
            await conn.execute(text("DELETE FROM audit_heads WHERE chain = :chain"), {"chain": str(victim.org_id)})
    # With its checkpoint: every entry up to it is missing.
    result = await verify(client, owner.headers)
    assert _problems(result) == {(row.seq, "missing") for row in rows}
    assert result["checked"] == 0
    # Without a checkpoint (none was kept): an organisation's chain still may not be empty.
    for path in checkpoint_dir(app.state.settings.data_dir).glob(f"{other.org_id}.jsonl"):
        path.unlink()
    assert _problems(await verify(client, other.headers)) == {(1, "missing")}


async def test_a_stray_row_at_head_plus_one_is_reported_and_audited_actions_go_on(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _chain(app, client, tenant)
    last = rows[-1]
    stray = SimpleNamespace(**{**vars(last), "id": uuid.uuid4(), "seq": last.seq + 1, "prev_hash": last.hash})
    stray.hash = unkeyed_hash(stray)
    async with app.state.db.transaction() as session:
        session.add(AuditEntry(**vars(stray)))
    assert _problems(await verify(client, owner.headers)) == {(stray.seq, "inserted")}
    # Audited actions of the organisation still work (they answered 500 before).
    created = await client.post(
        "/api/v1/credentials",
        headers=owner.headers,
        json={"name": "after-stray", "kind": "token", "value": {"token": "t-" * 8}},
    )
    assert created.status_code == 201, created.text
    me = await client.get("/api/v1/auth/me", headers=owner.headers)
    assert me.status_code == 200
    result = await verify(client, owner.headers)
    assert _problems(result) == {(stray.seq, "inserted")}
    assert result["head_seq"] == stray.seq + 1
    after = await _rows(app, str(owner.org_id))
    assert after[-1].action == "credential.create"
    assert after[-1].prev_hash == last.hash


async def test_entries_written_before_the_chain_was_keyed_verify_up_to_the_switch_point(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    chain = str(owner.org_id)
    # Rebuild the chain as an older release wrote it: unkeyed entries, the head switched after them.
    rows = await _rows(app, chain)
    async with triggers_bypassed(app) as conn:
        await _reseal_from(app, conn, rows, 0, drop_key=True)
        await conn.execute(
            text("UPDATE audit_heads SET hash = :hash, keyed_from = :switch WHERE chain = :chain"),
            {"hash": rows[-1].hash, "switch": rows[-1].seq + 1, "chain": chain},
        )
    await audit_entries(app, owner.org_id, 2)  # keyed from here on
    result = await verify(client, owner.headers)
    assert result["ok"] is True, result
    assert (result["unkeyed"], result["keyed_from"]) == (len(rows), len(rows) + 1)


async def test_a_whole_chain_rewritten_unkeyed_behind_a_moved_switch_point_is_found_against_the_checkpoint(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, rows = await _chain(app, client, tenant)
    await _checkpoint(app)
    rows[1].actor = "someone-else"
    async with triggers_bypassed(app) as conn:  # every entry "legacy": unkeyed, below a raised switch point
        last = await _reseal_from(app, conn, rows, 0, drop_key=True)
        await conn.execute(
            text("UPDATE audit_heads SET hash = :hash, keyed_from = :switch WHERE chain = :chain"),
            {"hash": last, "switch": rows[-1].seq + 1, "chain": str(owner.org_id)},
        )
    problems = _problems(await verify(client, owner.headers))
    assert (1, "checkpoint") in problems  # the switch point moved from 1
    assert (rows[-1].seq, "checkpoint") in problems  # the end differs from the signed one


def test_checkpoint_files_verify_offline_and_a_tampered_one_does_not(tmp_path: Path) -> None:
    from orchestrator.security.audit_keys import AuditKey
    from orchestrator.security.crypto import MasterKey
    from orchestrator.services.audit_checkpoints import Checkpoint

    key = AuditKey.of(MasterKey.generate())
    chain = str(uuid.uuid4())
    lines = []
    for seq in (3, 7):
        checkpoint = Checkpoint(
            chain=chain,
            seq=seq,
            hash=f"{seq:064x}",
            keyed_from=1,
            at="2026-12-07T09:00:00+00:00",
            public_key=key.public_key,
        )
        lines.append(Checkpoint(**{**vars(checkpoint), "signature": key.sign(checkpoint.body())}).line())
    (tmp_path / f"{chain}.jsonl").write_text("".join(lines))
    runner = CliRunner()
    good = runner.invoke(
        audit_app, ["verify", "--offline", "--checkpoints", str(tmp_path), "--public-key", key.public_key]
    )
    assert good.exit_code == 0, good.output
    assert verify_files(tmp_path, key.public_key).chains == {chain: 7}
    # Moved back to seq 5 (the hash edited to match), the signature no longer holds.
    (tmp_path / f"{chain}.jsonl").write_text(lines[0] + lines[1].replace('"seq": 7', '"seq": 5'))
    bad = runner.invoke(
        audit_app, ["verify", "--offline", "--checkpoints", str(tmp_path), "--public-key", key.public_key]
    )
    assert bad.exit_code == 1
    assert "signature does not hold" in bad.output
    other = AuditKey.of(MasterKey.generate())
    assert not verify_files(tmp_path, other.public_key).ok


async def test_the_cli_exports_checkpoints_and_verifies_the_database_against_them(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, tmp_path: Path
) -> None:
    import asyncio

    owner, rows = await _chain(app, client, tenant)
    settings = app.state.settings
    where = ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url]
    runner = CliRunner()

    def rpa_audit(*args: str) -> Any:
        return asyncio.to_thread(runner.invoke, audit_app, [*args])

    key = (await rpa_audit("public-key", *where)).output.strip()
    assert key == audit_keys.active().current.public_key
    export = tmp_path / "exported"
    exported = await rpa_audit("checkpoint", "--to", str(export), *where)
    assert exported.exit_code == 0, exported.output
    offline = await rpa_audit("verify", "--offline", "--checkpoints", str(export), "--public-key", key)
    assert offline.exit_code == 0, offline.output
    control = await rpa_audit("verify", "--checkpoints", str(export), "--public-key", key, *where)
    assert control.exit_code == 0, control.output
    assert f"chain {owner.org_id}: ok" in control.output

    async with triggers_bypassed(app) as conn:  # cut the tail after the export
        await conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": _db_id(app, rows[-1].id)})
        await conn.execute(
            text("UPDATE audit_heads SET seq = :seq, hash = :hash WHERE chain = :chain"),
            {"seq": rows[-2].seq, "hash": rows[-2].hash, "chain": str(owner.org_id)},
        )
    attacked = await rpa_audit("verify", "--checkpoints", str(export), "--public-key", key, *where)
    assert attacked.exit_code == 1, attacked.output
    assert f"seq {rows[-1].seq}: missing" in attacked.output
