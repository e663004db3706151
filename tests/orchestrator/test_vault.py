"""The credential vault: values go in encrypted and never come out through the API; reveal for
dispatch; rotation of values, data keys and the master key; audit without values; nothing in
clear in the database."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from orchestrator.db.base import Base
from orchestrator.errors import NotFound
from orchestrator.models.audit import AuditEntry
from orchestrator.models.vault import Credential, DataKey
from orchestrator.security.crypto import KeyRing, MasterKey
from orchestrator.services import vault, vault_keys
from tests.orchestrator._vault_helpers import create, distinctive_values, is_sqlite, reveal, secret_strings

API = "/api/v1/credentials"


async def test_every_kind_is_stored_and_only_metadata_comes_back(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    values = distinctive_values()
    for kind, value in values.items():
        created = await create(
            client, owner.headers, f"c_{kind}", kind, value, description=f"the {kind}", metadata={"env": "prod"}
        )
        assert created["kind"] == kind
        assert created["metadata"] == {"env": "prod"}
        assert set(created) == {
            "id",
            "org_id",
            "name",
            "kind",
            "description",
            "metadata",
            "access",
            "created_at",
            "updated_at",
            "rotated_at",
            "created_by",
        }
    listing = await client.get(API, headers=owner.headers)
    one = await client.get(f"{API}/{created['id']}", headers=owner.headers)
    assert listing.json()["total"] == 4
    assert one.status_code == 200
    for response in (listing, one):
        for value in values.values():
            for secret in secret_strings(value):
                assert secret not in response.text
    assert await reveal(app, owner.org_id, set(f"c_{kind}" for kind in values)) == {
        f"c_{kind}": value for kind, value in values.items()
    }


async def test_list_filters_by_kind_and_text(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    await create(
        client,
        owner.headers,
        "erp_login",
        "username_password",
        {"username": "u1", "password": "p1"},
        description="SAP production",
    )
    await create(client, owner.headers, "github", "token", {"token": "t" * 10})
    by_kind = (await client.get(API, headers=owner.headers, params={"kind": "token"})).json()
    by_text = (await client.get(API, headers=owner.headers, params={"q": "sap"})).json()
    assert [c["name"] for c in by_kind["items"]] == ["github"]
    assert [c["name"] for c in by_text["items"]] == ["erp_login"]


@pytest.mark.parametrize(
    ("kind", "value", "location"),
    [
        ("username_password", {"username": "bob-the-user"}, "body:value.password"),
        ("username_password", {"token": "abc"}, "body:value.username"),
        ("token", {"token": ""}, "body:value.token"),
        ("key_value", {"values": {}}, "body:value.values"),
        ("file", {"filename": "a.bin", "content_base64": "not base64!"}, "body:value.content_base64"),
        (
            "file",
            {"filename": "big.bin", "content_base64": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()},
            "body:value.content_base64",
        ),
    ],
)
async def test_a_value_of_the_wrong_shape_names_the_field_not_the_value(
    client: httpx.AsyncClient, tenant: Any, kind: str, value: dict[str, Any], location: str
) -> None:
    owner = await tenant()
    response = await client.post(API, headers=owner.headers, json={"name": "x", "kind": kind, "value": value})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith(location)
    assert "bob-the-user" not in response.text
    assert "not base64!" not in response.text


async def test_names_are_unique_among_live_credentials(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    first = await create(client, owner.headers, "db", "token", {"token": "one-1"})
    again = await client.post(
        API, headers=owner.headers, json={"name": "db", "kind": "token", "value": {"token": "two-2"}}
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"field": "name"}
    assert (await client.delete(f"{API}/{first['id']}", headers=owner.headers)).status_code == 204
    await create(client, owner.headers, "db", "token", {"token": "three-3"})


async def test_permissions_and_tenancy(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    operator = await tenant(org_id=owner.org_id, role="operator")  # credentials:read only
    viewer = await tenant(org_id=owner.org_id, role="viewer")  # neither
    stranger = await tenant()
    created = await create(client, owner.headers, "shared", "token", {"token": "tok-perm"})
    path = f"{API}/{created['id']}"
    assert (await client.get(path, headers=operator.headers)).status_code == 200
    assert (
        await client.post(f"{path}/rotate", headers=operator.headers, json={"value": {"token": "nope-1"}})
    ).status_code == 403
    assert (await client.delete(path, headers=operator.headers)).status_code == 403
    assert (await client.get(API, headers=viewer.headers)).status_code == 403
    for method, body in (("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)):
        response = await client.request(method, path, headers=stranger.headers, json=body)
        assert response.status_code == 404, (method, response.text)
    assert (
        await client.post(f"{path}/rotate", headers=stranger.headers, json={"value": {"token": "nope-2"}})
    ).status_code == 404
    assert (await client.get(API, headers=stranger.headers)).json()["total"] == 0


async def test_rotate_replaces_the_value_and_patch_only_metadata(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    created = await create(
        client, owner.headers, "erp", "username_password", {"username": "old-user", "password": "old-pass"}
    )
    assert created["rotated_at"] is None
    wrong = await client.post(f"{API}/{created['id']}/rotate", headers=owner.headers, json={"value": {"token": "x"}})
    assert wrong.status_code == 422
    rotated = await client.post(
        f"{API}/{created['id']}/rotate",
        headers=owner.headers,
        json={"value": {"username": "new-user", "password": "new-pass"}},
    )
    assert rotated.status_code == 200
    assert rotated.json()["rotated_at"] is not None
    patched = await client.patch(
        f"{API}/{created['id']}",
        headers=owner.headers,
        json={"description": "ERP login", "metadata": {"team": "finance"}},
    )
    assert patched.json()["description"] == "ERP login"
    assert patched.json()["metadata"] == {"team": "finance"}
    assert await reveal(app, owner.org_id, {"erp"}) == {"erp": {"username": "new-user", "password": "new-pass"}}


async def test_delete_wipes_the_ciphertext(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "gone", "token", {"token": "tok-to-forget"})
    assert (await client.delete(f"{API}/{created['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/{created['id']}", headers=owner.headers)).status_code == 404
    async with app.state.db.transaction() as session:
        row = await session.get(Credential, uuid.UUID(created["id"]))
        assert row is not None
        assert row.deleted_at is not None
        assert (row.ciphertext, row.nonce, row.data_key_version) == (b"", b"", None)
    with pytest.raises(NotFound) as missing:
        await reveal(app, owner.org_id, {"gone"})
    assert missing.value.details == {"missing": ["gone"]}


async def test_reveal_is_scoped_to_the_organisation(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner, stranger = await tenant(), await tenant()
    await create(client, owner.headers, "mine", "token", {"token": "tok-mine-1"})
    with pytest.raises(NotFound):
        await reveal(app, stranger.org_id, {"mine"})


async def test_a_ciphertext_moved_to_another_row_does_not_decrypt(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    a = await create(client, owner.headers, "a", "token", {"token": "tok-aaaa"})
    b = await create(client, owner.headers, "b", "token", {"token": "tok-bbbb"})
    async with app.state.db.transaction() as session:
        source = await session.get(Credential, uuid.UUID(a["id"]))
        assert source is not None
        await session.execute(
            update(Credential)
            .where(Credential.id == uuid.UUID(b["id"]))
            .values(ciphertext=source.ciphertext, nonce=source.nonce)
        )
    with pytest.raises(vault.VaultError, match="does not authenticate"):
        await reveal(app, owner.org_id, {"b"})


async def test_credential_actions_are_audited_with_metadata_only(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    value = distinctive_values()["username_password"]
    created = await create(client, owner.headers, "audited", "username_password", value, metadata={"env": "prod"})
    path = f"{API}/{created['id']}"
    rotated_value = {"username": "rot-" + value["username"], "password": "rot-" + value["password"]}
    await client.post(f"{path}/rotate", headers=owner.headers, json={"value": rotated_value})
    await client.patch(path, headers=owner.headers, json={"description": "now described"})
    await client.delete(path, headers={**owner.headers, "X-Request-ID": "del-1"})
    page = (await client.get("/api/v1/audit", headers=owner.headers, params={"target_id": created["id"]})).json()
    actions = [item["action"] for item in page["items"]]
    assert actions == ["credential.delete", "credential.update", "credential.rotate", "credential.create"]
    assert page["items"][0]["request_id"] == "del-1"
    assert page["items"][0]["actor"] == owner.email
    assert page["items"][0]["ip"] == "127.0.0.1"
    assert page["items"][1]["summary"] == {
        "name": "audited",
        "before": {"description": ""},
        "after": {"description": "now described"},
    }
    assert page["items"][3]["summary"]["metadata"] == {"env": "prod"}
    dumped = json.dumps(page)
    for secret in [*secret_strings(value), *secret_strings(rotated_value)]:
        assert secret not in dumped


async def test_concurrent_first_use_makes_one_data_key(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    import asyncio

    owner = await tenant()
    responses = await asyncio.gather(
        *(
            client.post(
                API,
                headers=owner.headers,
                json={"name": f"c{i}", "kind": "token", "value": {"token": f"tok-concurrent-{i}"}},
            )
            for i in range(10)
        )
    )
    assert [r.status_code for r in responses] == [201] * 10
    async with app.state.db.transaction() as session:
        keys = (await session.scalars(select(DataKey).where(DataKey.org_id == owner.org_id))).all()
    assert [(k.version, k.active) for k in keys] == [(1, True)]


async def test_rotating_the_data_key_re_encrypts_and_drops_the_old_version(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    values = distinctive_values()
    for kind, value in values.items():
        await create(client, owner.headers, kind, kind, value)
    ring = vault.keyring_for(app.state.settings, app.state.master_key)
    async with app.state.db.transaction() as session:
        before = {c.name: c.ciphertext for c in (await session.scalars(select(Credential))).all()}
        rotation = await vault.rotate_data_key(session, owner.org_id, ring)
    assert (rotation.old_version, rotation.new_version, rotation.reencrypted) == (1, 2, 4)
    assert rotation.dropped_versions == [1]
    async with app.state.db.transaction() as session:
        keys = (await session.scalars(select(DataKey).where(DataKey.org_id == owner.org_id))).all()
        rows = (await session.scalars(select(Credential).where(Credential.org_id == owner.org_id))).all()
    assert [(k.version, k.active) for k in keys] == [(2, True)]
    assert all(row.data_key_version == 2 and row.ciphertext != before[row.name] for row in rows)
    assert await reveal(app, owner.org_id, set(values)) == values
    await create(client, owner.headers, "after", "token", {"token": "tok-after-rotation"})


async def test_a_data_key_under_an_unknown_master_key_is_a_503(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    created = await create(client, owner.headers, "k", "token", {"token": "tok-unknown-master"})
    other = KeyRing(MasterKey.generate())
    async with app.state.db.transaction() as session:
        assert (
            await vault_keys.rewrap_org(
                session, owner.org_id, vault.keyring_for(app.state.settings, app.state.master_key), other.current
            )
            == 1
        )
    response = await client.post(
        f"{API}/{created['id']}/rotate", headers=owner.headers, json={"value": {"token": "tok-new-value"}}
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "vault_unavailable"
    assert other.current.key_id in response.json()["error"]["message"]


async def test_no_value_is_stored_in_clear(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:  # noqa: C901
    """Every kind, then scan every table's rows (and on SQLite the raw file and its WAL) for the
    values in plain, base64, hex and JSON-escaped form."""
    owner = await tenant()
    values = distinctive_values()
    for kind, value in values.items():
        created = await create(client, owner.headers, f"scan_{kind}", kind, value, description="scan")
        rotated = {**value}
        await client.patch(f"{API}/{created['id']}", headers=owner.headers, json={"metadata": {"k": "v"}})
    await client.post(f"{API}/{created['id']}/rotate", headers=owner.headers, json={"value": rotated})
    needles: set[bytes] = set()
    for value in values.values():
        for secret in secret_strings(value):
            raw = secret.encode()
            needles |= {
                raw,
                base64.b64encode(raw),
                raw.hex().encode(),
                raw.hex().upper().encode(),
                json.dumps(secret).encode()[1:-1],
            }
    needles.add(b"-----BEGIN PRIVATE KEY-----")  # the decoded file content
    needles.add(app.state.master_key.encode())

    dump = bytearray()
    async with app.state.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            exists = await conn.run_sync(lambda sync, name=table.name: sync.dialect.has_table(sync, name))
            if exists:
                for row in (await conn.execute(table.select())).all():
                    for item in row:
                        dump += item if isinstance(item, bytes) else str(item).encode()
                        dump += b"\x00"
    assert len(dump) > 1000
    for needle in needles:
        assert needle not in dump, needle
    if is_sqlite(app):
        database = app.state.settings.data_dir / "orchestrator.db"
        files = [database, database.with_name("orchestrator.db-wal")]
        assert files[1].exists()
        assert files[1].stat().st_size > 0
        for path in files:
            content = path.read_bytes()
            for needle in needles:
                assert needle not in content, (path.name, needle)
        async with app.state.db.engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        content = database.read_bytes()
        for needle in needles:
            assert needle not in content, needle


async def test_audit_rows_never_hold_a_value_even_if_a_caller_passes_one(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    from orchestrator.services.audit import Actor, record

    owner = await tenant()
    await create(client, owner.headers, "leaky", "token", {"token": "tok-leak-0123456789"})
    async with app.state.db.transaction() as session:
        entry = await record(
            session,
            org_id=owner.org_id,
            actor=Actor(None, "careless"),
            action="x.y",
            summary={"note": "value was tok-leak-0123456789", "password": "hunter2-x"},
        )
    async with app.state.db.transaction() as session:
        stored = await session.scalar(select(AuditEntry.summary).where(AuditEntry.id == entry.id))
    assert stored == {"note": "value was ***", "password": "***"}
