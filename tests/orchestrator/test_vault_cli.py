"""`rpa vault`: master key rotation (data dir and environment), status, data key rotation,
each run while the server keeps serving."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models import Organisation
from orchestrator.models.vault import DataKey
from orchestrator.security.crypto import KeyRing, MasterKey
from orchestrator.services import vault, vault_keys
from tests.orchestrator._vault_helpers import create, distinctive_values, reveal

API = "/api/v1/credentials"


def _cli(settings: Any, *args: str) -> Any:
    from typer.testing import CliRunner

    from orchestrator.cli import vault_app

    options = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        options += ["--database-url", settings.database_url]
    return CliRunner().invoke(vault_app, [*args, *options])


async def _key_ids(app: FastAPI) -> set[str]:
    async with app.state.db.transaction() as session:
        return set((await session.scalars(select(DataKey.master_key_id))).all())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("RPA_MASTER_KEY", "RPA_MASTER_KEY_PREVIOUS", "RPA_DATA_DIR", "RPA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_rotate_master_key_in_the_data_dir_while_the_server_runs(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, clean_env: pytest.MonkeyPatch
) -> None:
    settings = app.state.settings
    first, second = await tenant(), await tenant()
    values = distinctive_values()
    await create(client, first.headers, "a", "token", values["token"])
    b = await create(client, second.headers, "b", "username_password", values["username_password"])
    old_text = (settings.data_dir / "master.key").read_text()
    old_id = MasterKey.from_text(old_text).key_id
    assert await _key_ids(app) == {old_id}

    result = await asyncio.to_thread(_cli, settings, "rotate-master-key")
    assert result.exit_code == 0, result.output
    new_text = (settings.data_dir / "master.key").read_text()
    new_id = MasterKey.from_text(new_text).key_id
    assert f"master key {old_id} -> {new_id}: re-wrapped 2 data keys of 2 organisations" in result.output
    assert old_text not in result.output
    assert new_text not in result.output
    assert (settings.data_dir / "master.key.previous").read_text() == old_text
    assert not (settings.data_dir / "master.key.next").exists()
    assert (settings.data_dir / "master.key").stat().st_mode & 0o777 == 0o600
    assert await _key_ids(app) == {new_id}

    # The running server (started with the old key) follows without a restart.
    assert await reveal(app, first.org_id, {"a"}) == {"a": values["token"]}
    rotated = await client.post(
        f"{API}/{b['id']}/rotate", headers=second.headers, json={"value": {"username": "u2", "password": "p2"}}
    )
    assert rotated.status_code == 200
    third = await tenant()
    await create(client, third.headers, "c", "token", {"token": "tok-third-org"})
    assert await _key_ids(app) == {new_id}
    # Only the new key is needed now.
    async with app.state.db.transaction() as session:
        assert await vault.reveal(session, second.org_id, {"b"}, new_text) == {
            "b": {"username": "u2", "password": "p2"}
        }
    status = await asyncio.to_thread(_cli, settings, "status")
    assert f"current master key: {new_id}" in status.output
    assert f"data keys wrapped by {new_id}: 3 (current)" in status.output


async def test_rotate_master_key_given_in_the_environment(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, clean_env: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    settings = app.state.settings
    owner = await tenant()
    await create(client, owner.headers, "a", "token", {"token": "tok-env-rotation"})
    old_text = (settings.data_dir / "master.key").read_text()
    clean_env.setenv("RPA_MASTER_KEY", old_text)
    key_file = tmp_path / "new.key"

    result = await asyncio.to_thread(_cli, settings, "rotate-master-key", "--new-key-file", str(key_file))
    assert result.exit_code == 0, result.output
    first = MasterKey.from_text(key_file.read_text())
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "set RPA_MASTER_KEY" in result.output
    assert first.to_text() not in result.output
    assert (settings.data_dir / "master.key").read_text() == old_text  # the data dir is not used
    assert await _key_ids(app) == {first.key_id}
    async with app.state.db.transaction() as session:
        with pytest.raises(vault.VaultUnavailable):
            await vault.reveal(session, owner.org_id, {"a"}, old_text)
        assert await vault.reveal(session, owner.org_id, {"a"}, KeyRing(first)) == {"a": {"token": "tok-env-rotation"}}

    # Rolling the servers first (new key current, old one previous), then finishing the rotation.
    second = MasterKey.generate()
    clean_env.setenv("RPA_MASTER_KEY", second.to_text())
    clean_env.setenv("RPA_MASTER_KEY_PREVIOUS", first.to_text())
    finished = await asyncio.to_thread(_cli, settings, "rotate-master-key")
    assert finished.exit_code == 0, finished.output
    assert f"-> {second.key_id}: re-wrapped 1 data keys of 1 organisations" in finished.output
    assert await _key_ids(app) == {second.key_id}


async def test_rotation_refuses_to_start_when_a_data_key_is_unreadable(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, clean_env: pytest.MonkeyPatch
) -> None:
    settings = app.state.settings
    owner, other = await tenant(), await tenant()
    await create(client, owner.headers, "a", "token", {"token": "tok-readable"})
    await create(client, other.headers, "b", "token", {"token": "tok-unreadable"})
    lost = MasterKey.generate()
    async with app.state.db.transaction() as session:
        await vault_keys.rewrap_org(session, other.org_id, vault.keyring_for(settings, app.state.master_key), lost)
    before = await _key_ids(app)
    result = await asyncio.to_thread(_cli, settings, "rotate-master-key")
    assert result.exit_code == 1
    assert f"wrapped by master key {lost.key_id}, which is not configured" in result.output
    assert await _key_ids(app) == before


async def test_rotate_data_keys_command(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any, clean_env: pytest.MonkeyPatch
) -> None:
    owner = await tenant()
    values = distinctive_values()
    await create(client, owner.headers, "kv", "key_value", values["key_value"])
    async with app.state.db.transaction() as session:
        slug = (await session.get(Organisation, owner.org_id)).slug  # type: ignore[union-attr]
    result = await asyncio.to_thread(_cli, app.state.settings, "rotate-data-keys", "--org", slug)
    assert result.exit_code == 0, result.output
    assert f"{slug}: data key v1 -> v2, 1 credentials re-encrypted, dropped versions [1]" in result.output
    assert await reveal(app, owner.org_id, {"kv"}) == {"kv": values["key_value"]}
    unknown = await asyncio.to_thread(_cli, app.state.settings, "rotate-data-keys", "--org", "no-such-org")
    assert unknown.exit_code == 1
    assert "no organisation no-such-org" in unknown.output
