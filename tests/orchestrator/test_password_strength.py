"""Weak passwords are refused by a real server: a strength estimate and a shipped list of common
passwords, configurable per organisation, with an error that names the field and why."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.security import strength
from orchestrator.services.policy import PasswordPolicy
from tests.orchestrator._identity_helpers import (
    API,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    make_instance_admin,
    patch_org,
)
from tests.orchestrator.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_hashing")

WEAK = ("Password1234", "Summer2024!!", "Welcome12345", "qwertyuiop12", "aaaaaaaaaaa1")


async def test_weak_passwords_are_refused_on_a_live_server(live: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    control = await live.post(
        f"{API}/auth/password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": "Violet-Canal-93-Lantern"},
    )
    assert control.status_code == 204, control.text
    owner = await tenant()
    await make_instance_admin(app, owner.user_id)  # may create accounts
    for weak in WEAK:
        refused = await live.post(
            f"{API}/auth/password", headers=owner.headers, json={"current_password": PASSWORD, "new_password": weak}
        )
        assert refused.status_code == 422, (weak, refused.text)
        assert error_code(refused) == "weak_password"
        error = refused.json()["error"]
        assert error["message"].startswith("body:new_password: the password ")
        assert {d["location"] for d in error["details"]} == {"body:new_password"}
        assert any("common" in d["message"] or "easy to guess" in d["message"] for d in error["details"]), weak
        assert weak not in refused.text  # the answer never repeats the password
        created = await live.post(
            f"{API}/users",
            headers=owner.headers,
            json={"email": f"w{WEAK.index(weak)}@example.com", "password": weak, "role": "viewer"},
        )
        assert created.status_code == 422, (weak, created.text)
        assert created.json()["error"]["details"][0]["location"] == "body:password"


async def test_the_policy_is_per_organisation(live: httpx.AsyncClient, tenant) -> None:
    strict, lenient = await tenant(), await tenant()
    await patch_org(live, strict.headers, password_policy={"banned_words": ["Lantern"]})
    await patch_org(live, lenient.headers, password_policy={"min_strength": 0, "reject_common": False})
    change = {"current_password": PASSWORD, "new_password": "Lantern-2024!"}
    banned = await live.post(f"{API}/auth/password", headers=strict.headers, json=change)
    assert banned.status_code == 422
    assert "common word" in banned.json()["error"]["message"]
    assert (
        await live.post(
            f"{API}/auth/password", headers=lenient.headers, json={**change, "new_password": "Summer2024!!"}
        )
    ).status_code == 204
    bad = await live.patch(f"{API}/orgs/current", headers=strict.headers, json={"password_policy": {"min_strength": 5}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["location"] == "body:password_policy.min_strength"


@pytest.mark.parametrize("password", WEAK)
def test_the_default_policy_names_why(password: str) -> None:
    assert PasswordPolicy().problems(password, email="ada@example.com")


def test_the_core_of_a_padded_word() -> None:
    assert strength.core("P@ssw0rd99!") == "password"
    assert strength.common_core("Summer2024!!")
    assert strength.common_core("1234567890!!")  # nothing but padding
    assert not strength.common_core(PASSWORD)
    assert strength.common_core("Acme-2024!", extra=["acme"])
    assert strength.estimate("x" * 5000).score <= 1  # long input is cut, not scored quadratically
