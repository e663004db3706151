"""TOTP: enrolment, confirmation, login with a code, replay refused, recovery codes, disabling.

The TOTP clock is pinned (`orchestrator.security.totp.clock`) so codes and time steps are exact.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.security import totp
from tests.orchestrator._identity_helpers import (
    API,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    get_user,
    login,
)
from tests.orchestrator.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_hashing")

NOW = 1_800_000_015.0  # the middle of a 30 s step


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = NOW
        monkeypatch.setattr(totp, "clock", lambda: self.now)

    def code(self, secret: str, steps: int = 0) -> str:
        return totp.code_at(secret, self.now + steps * totp.STEP_S)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


async def enrol(client: httpx.AsyncClient, headers: dict[str, str], clock: Clock) -> tuple[str, list[str]]:
    """Enrol and confirm with the previous step's code (so the current step is still free)."""
    started = await client.post(f"{API}/auth/mfa/totp", headers=headers)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = await client.post(
        f"{API}/auth/mfa/totp/confirm", headers=headers, json={"code": clock.code(secret, -1)}
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


async def test_enrolment_returns_a_uri_and_stores_the_secret_encrypted(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner = await tenant()
    started = (await client.post(f"{API}/auth/mfa/totp", headers=owner.headers)).json()
    assert started["provisioning_uri"].startswith("otpauth://totp/")
    assert f"secret={started['secret']}" in started["provisioning_uri"]
    user = await get_user(app, owner.user_id)
    assert user.totp_enabled is False
    assert user.totp_secret is not None
    assert started["secret"].encode() not in user.totp_secret
    assert totp.decrypt_secret(app.state.master_key, user.totp_secret, user.id) == started["secret"]
    with pytest.raises(totp.TotpError):  # bound to its user: useless on another row
        totp.decrypt_secret(app.state.master_key, user.totp_secret, uuid.uuid4())


async def test_until_confirmed_totp_is_not_required(client: httpx.AsyncClient, clock: Clock, tenant) -> None:
    owner = await tenant()
    secret = (await client.post(f"{API}/auth/mfa/totp", headers=owner.headers)).json()["secret"]
    assert (await login(client, owner.email)).status_code == 200
    wrong = await client.post(f"{API}/auth/mfa/totp/confirm", headers=owner.headers, json={"code": "000000"})
    assert wrong.status_code == 422
    assert error_code(wrong) == "invalid_mfa_code"
    good = await client.post(f"{API}/auth/mfa/totp/confirm", headers=owner.headers, json={"code": clock.code(secret)})
    codes = good.json()["recovery_codes"]
    assert len(set(codes)) == len(codes) == 10
    again = await client.post(f"{API}/auth/mfa/totp", headers=owner.headers)
    assert error_code(again) == "mfa_enabled"


async def test_login_requires_the_code_once_enabled(client: httpx.AsyncClient, clock: Clock, tenant) -> None:
    owner = await tenant()
    secret, _codes = await enrol(client, owner.headers, clock)
    prompted = await login(client, owner.email)
    assert prompted.status_code == 401
    assert error_code(prompted) == "mfa_required"
    wrong_password = await login(client, owner.email, "Wrong-Password-123")  # no hint that MFA is on
    assert error_code(wrong_password) == "invalid_credentials"
    wrong_code = await login(client, owner.email, totp_code="123456")
    assert error_code(wrong_code) == "invalid_mfa_code"
    ok = await login(client, owner.email, totp_code=clock.code(secret))
    assert ok.status_code == 200, ok.text


async def test_a_used_code_or_an_older_one_is_refused(
    client: httpx.AsyncClient, app: FastAPI, clock: Clock, tenant
) -> None:
    owner = await tenant()
    secret, _codes = await enrol(client, owner.headers, clock)
    assert (await login(client, owner.email, totp_code=clock.code(secret))).status_code == 200
    step = (await get_user(app, owner.user_id)).totp_last_step
    assert step == totp.current_step(NOW)
    clock.now += totp.STEP_S  # the previous step's code is still within the window, but was used
    assert error_code(await login(client, owner.email, totp_code=clock.code(secret, -1))) == "invalid_mfa_code"
    assert (await login(client, owner.email, totp_code=clock.code(secret))).status_code == 200


async def test_recovery_codes_work_once(client: httpx.AsyncClient, clock: Clock, tenant) -> None:
    owner = await tenant()
    _secret, codes = await enrol(client, owner.headers, clock)
    typed = codes[3].upper().replace("-", " ")  # case, spaces and dashes do not matter
    assert (await login(client, owner.email, recovery_code=typed)).status_code == 200
    assert error_code(await login(client, owner.email, recovery_code=codes[3])) == "invalid_mfa_code"
    assert (await login(client, owner.email, recovery_code=codes[4])).status_code == 200
    assert error_code(await login(client, owner.email, recovery_code="aaaa-bbbb-cccc")) == "invalid_mfa_code"


async def test_wrong_codes_count_towards_the_lockout(client: httpx.AsyncClient, clock: Clock, tenant) -> None:
    owner = await tenant()
    secret, _codes = await enrol(client, owner.headers, clock)
    assert (
        await client.patch(
            f"{API}/orgs/current", headers=owner.headers, json={"password_policy": {"lockout_threshold": 2}}
        )
    ).status_code == 200
    for _ in range(2):
        await login(client, owner.email, totp_code="000000")
    assert error_code(await login(client, owner.email, totp_code=clock.code(secret))) == "locked"


async def test_disable_needs_the_password_or_a_code(client: httpx.AsyncClient, clock: Clock, tenant) -> None:
    owner = await tenant()
    secret, _codes = await enrol(client, owner.headers, clock)
    nothing = await client.request("DELETE", f"{API}/auth/mfa/totp", headers=owner.headers, json={})
    assert nothing.status_code == 422
    wrong = await client.request(
        "DELETE", f"{API}/auth/mfa/totp", headers=owner.headers, json={"password": "Wrong-Password-123"}
    )
    assert error_code(wrong) == "wrong_password"
    assert error_code(await login(client, owner.email)) == "mfa_required"
    off = await client.request(
        "DELETE", f"{API}/auth/mfa/totp", headers=owner.headers, json={"code": clock.code(secret)}
    )
    assert off.status_code == 204, off.text
    assert (await login(client, owner.email)).status_code == 200


async def test_disable_with_the_password(client: httpx.AsyncClient, app: FastAPI, clock: Clock, tenant) -> None:
    owner = await tenant()
    await enrol(client, owner.headers, clock)
    off = await client.request("DELETE", f"{API}/auth/mfa/totp", headers=owner.headers, json={"password": PASSWORD})
    assert off.status_code == 204
    user = await get_user(app, owner.user_id)
    assert (user.totp_enabled, user.totp_secret) == (False, None)
