"""Signing the studio in to orchestrators, without Qt: TOTP when the account has it, the refresh
token in the keyring (never in the settings), a restart that stays signed in, switching
organisation, and signing out (the server's session revoked, the token deleted). Without a
keyring backend the token goes to a 0600 file and the log says so."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import httpx
import keyring
import pytest
from fastapi import FastAPI
from keyring.backends import fail

from orchestrator.security import totp
from shared.client import ApiClient, ApiError
from studio.model import Settings
from studio.remote import SERVICE, Connection, Connections, TokenStore, normalise_url
from tests.agent.keyrings import MemoryKeyring
from tests.orchestrator._identity_helpers import make_instance_admin
from tests.orchestrator.conftest import PASSWORD, Member
from tests.studio.remote.conftest import call

NOW = 1_800_000_015.0  # the middle of a 30 s TOTP step


async def test_sign_in_with_totp_keeps_the_token_in_the_keyring_and_survives_a_restart(
    connections: Connections,
    memory_keyring: MemoryKeyring,
    live: httpx.AsyncClient,
    url: str,
    owner: Member,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(totp, "clock", lambda: NOW)
    secret = (await live.post("/api/v1/auth/mfa/totp", headers=owner.headers)).json()["secret"]
    confirm = {"code": totp.code_at(secret, NOW - totp.STEP_S)}
    assert (await live.post("/api/v1/auth/mfa/totp/confirm", headers=owner.headers, json=confirm)).status_code == 200

    with pytest.raises(ApiError) as caught:
        await call(connections.sign_in, url, owner.email, "wrong")
    assert caught.value.code == "invalid_credentials"
    with pytest.raises(ApiError) as caught:
        await call(connections.sign_in, url, owner.email, PASSWORD)
    assert caught.value.code == "mfa_required"
    assert connections.list() == []

    connection = await call(connections.sign_in, url + "/", owner.email, PASSWORD, totp_code=totp.code_at(secret, NOW))
    assert (connection.url, connection.email, connection.org_id, connection.role) == (
        url,
        owner.email,
        str(owner.org_id),
        "owner",
    )
    assert connection.org_name.startswith("Org ")
    assert connection.display_name.startswith(f"{owner.email} — Org ")
    assert connections.list() == [connection]
    assert connections.active == connection
    token = memory_keyring.passwords[(SERVICE, connection.key)]
    settings_text = (tmp_path / "studio" / "settings.json").read_text()
    assert token not in settings_text
    assert PASSWORD not in settings_text

    # A restart: a new Connections over the same settings reads the token and keeps it fresh.
    again = Connections(Settings(tmp_path / "studio" / "settings.json"), TokenStore(tmp_path / "studio" / "tokens"))
    assert again.active == connection
    assert (await call(again.client(connection).me)).email == owner.email
    rotated = memory_keyring.passwords[(SERVICE, connection.key)]
    assert rotated != token  # refresh tokens rotate; the keyring holds the new one
    assert not list((tmp_path / "studio").glob("tokens/*"))  # no file while a keyring works

    await call(again.sign_out, connection)
    assert again.list() == []
    assert again.active is None
    assert (SERVICE, connection.key) not in memory_keyring.passwords
    with pytest.raises(ApiError) as caught:  # the server's session is revoked too
        await call(ApiClient(url, refresh_token=rotated).me)
    assert caught.value.status == 401
    with pytest.raises(ApiError) as caught:
        again.client(connection)
    assert caught.value.code == "no_session"


async def test_switch_organisation(
    connections: Connections, app: FastAPI, live: httpx.AsyncClient, url: str, owner: Member
) -> None:
    await make_instance_admin(app, owner.user_id)
    second = (await live.post("/api/v1/orgs", json={"name": "Second Shop"}, headers=owner.headers)).json()
    connection = await call(connections.sign_in, url, owner.email, PASSWORD)
    names = {o.name for o in await call(connections.organisations, connection)}
    assert names == {connection.org_name, "Second Shop"}
    switched = await call(connections.switch_org, connection, second["slug"])
    assert (switched.org_id, switched.org_name, switched.key) == (second["id"], "Second Shop", connection.key)
    assert connections.list() == [switched]
    assert connections.active == switched
    assert (await call(connections.client(switched).me)).org_id == second["id"]


async def test_without_a_keyring_backend_the_token_goes_to_a_0600_file_and_the_log_says_so(
    tmp_path: Path, url: str, owner: Member, caplog: pytest.LogCaptureFixture
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        tokens = TokenStore(tmp_path / "tokens")
        connections = Connections(Settings(tmp_path / "settings.json"), tokens)
        with caplog.at_level(logging.WARNING, logger="studio.remote"):
            connection = await call(connections.sign_in, url, owner.email, PASSWORD)
        assert not tokens.in_keyring
        files = list((tmp_path / "tokens").iterdir())
        assert len(files) == 1
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
        token = files[0].read_text()
        assert token == tokens.get(connection.key)
        assert token not in files[0].name
        assert owner.email not in files[0].name
        assert "no OS keyring backend works" in caplog.text
        assert token not in caplog.text
        await call(connections.sign_out, connection)
        assert list((tmp_path / "tokens").iterdir()) == []
    finally:
        keyring.set_keyring(previous)


def test_urls_are_normalised_and_bad_ones_refused() -> None:
    assert normalise_url(" orchestrator.example.com:8400/ ") == "http://orchestrator.example.com:8400"
    assert normalise_url("https://rpa.example.com") == "https://rpa.example.com"
    for bad in ("", "ftp://x", "http://"):
        with pytest.raises(ApiError) as caught:
            normalise_url(bad)
        assert caught.value.code == "bad_url"


async def test_an_unreachable_orchestrator_still_signs_out_locally(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    connections = Connections(Settings(tmp_path / "settings.json"), TokenStore(tmp_path / "tokens"))
    gone = Connection("http://127.0.0.1:9", "ann@example.com", "org-1", "Acme")
    connections.settings.set("orchestrators", [gone.__dict__])
    connections.tokens.set(gone.key, "rt-1")
    await call(connections.sign_out, gone)
    assert connections.list() == []
    assert (SERVICE, gone.key) not in memory_keyring.passwords
