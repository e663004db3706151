"""The cross-tenant lockout chain and account enumeration, attacked over a real socket.

The chain as it once worked: any member of any organisation creates an organisation, adds any
user of the instance by e-mail, sets its lockout to one attempt for a day, and with one wrong
login naming that organisation locks the victim out of every organisation. Each test makes a
control request first, then the attack.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.orchestrator._identity_helpers import (
    API,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    login,
    make_instance_admin,
    patch_org,
)
from tests.orchestrator.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_hashing")

WRONG = "Not-The-Password-42"


async def _slug(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    slug: str = (await http.get(f"{API}/orgs/current", headers=headers)).json()["slug"]
    return slug


async def _powerless(http: httpx.AsyncClient, tenant: Any) -> Any:
    """A member of some organisation whose custom role holds no permission at all."""
    owner = await tenant()
    assert (
        await http.post(f"{API}/roles", headers=owner.headers, json={"name": "nothing", "permissions": []})
    ).status_code == 201
    member = await tenant(org_id=owner.org_id, role="viewer")
    assert (
        await http.patch(f"{API}/users/{member.user_id}", headers=owner.headers, json={"role": "nothing"})
    ).status_code == 200
    return member


async def test_a_member_without_permissions_cannot_create_an_organisation(
    live: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    admin = await tenant()
    await make_instance_admin(app, admin.user_id)
    control = await live.post(f"{API}/orgs", headers=admin.headers, json={"name": "Admin's second"})
    assert control.status_code == 201, control.text
    attacker = await _powerless(live, tenant)
    refused = await live.post(f"{API}/orgs", headers=attacker.headers, json={"name": "Trap"})
    assert refused.status_code == 403, refused.text
    assert error_code(refused) == "org_creation_restricted"
    assert (await live.get(f"{API}/orgs", headers=attacker.headers)).json()["total"] == 1
    # An instance that wants self-service organisations says so.
    app.state.settings = app.state.settings.model_copy(update={"org_creation": "members"})
    assert (await live.post(f"{API}/orgs", headers=attacker.headers, json={"name": "Allowed"})).status_code == 201


async def test_an_existing_user_is_never_made_a_member_without_consent(live: httpx.AsyncClient, tenant) -> None:
    victim = await tenant()
    attacker = await tenant()  # owns an organisation, e.g. one an instance admin made for them
    sent = await live.post(
        f"{API}/invitations", headers=attacker.headers, json={"email": victim.email, "role": "viewer"}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "pending"
    # The old way in (an e-mail without a password) adds nobody.
    direct = await live.post(f"{API}/users", headers=attacker.headers, json={"email": victim.email, "role": "viewer"})
    assert direct.status_code in (403, 422), direct.text
    members = (await live.get(f"{API}/users", headers=attacker.headers)).json()["items"]
    assert victim.email not in [m["email"] for m in members]
    assert (await live.get(f"{API}/orgs", headers=victim.headers)).json()["total"] == 1
    attacker_slug = await _slug(live, attacker.headers)
    assert error_code(await login(live, victim.email, org=attacker_slug)) == "invalid_credentials"
    # The victim sees it and declines; the organisation sees that, and nothing else about them.
    mine = (await live.get(f"{API}/auth/invitations", headers=victim.headers)).json()["items"]
    assert [(i["org_slug"], i["role"]) for i in mine] == [(attacker_slug, "viewer")]
    declined = await live.post(f"{API}/auth/invitations/{mine[0]['id']}/decline", headers=victim.headers)
    assert declined.status_code == 204
    listed = (await live.get(f"{API}/invitations", headers=attacker.headers)).json()["items"]
    assert [(i["email"], i["status"]) for i in listed] == [(victim.email, "declined")]
    assert (
        await live.post(f"{API}/auth/invitations/{mine[0]['id']}/accept", headers=victim.headers)
    ).status_code == 409


async def test_one_organisations_lockout_never_bars_another(live: httpx.AsyncClient, tenant) -> None:
    victim = await tenant()
    victim_slug = await _slug(live, victim.headers)
    attacker = await tenant()
    attacker_slug = await _slug(live, attacker.headers)
    # Even a victim who accepted the attacker's invitation (the worst case) keeps their own organisation.
    sent = (
        await live.post(f"{API}/invitations", headers=attacker.headers, json={"email": victim.email, "role": "viewer"})
    ).json()
    assert (await live.post(f"{API}/auth/invitations/{sent['id']}/accept", headers=victim.headers)).status_code == 200
    await patch_org(live, attacker.headers, password_policy={"lockout_threshold": 1, "lockout_minutes": 1440})
    assert (await login(live, victim.email, org=victim_slug)).status_code == 200  # control
    assert error_code(await login(live, victim.email, WRONG, org=attacker_slug)) == "invalid_credentials"
    assert error_code(await login(live, victim.email, org=attacker_slug)) == "locked"  # that organisation only
    for org in (victim_slug, None):
        again = await login(live, victim.email, org=org)
        assert again.status_code == 200, (org, again.text)
        assert again.json()["org_id"] == str(victim.org_id)
    victim_view = (await live.get(f"{API}/users/{victim.user_id}", headers=victim.headers)).json()
    assert victim_view["locked_until"] is None  # the victim's organisation sees no lockout of its own


async def test_answers_do_not_tell_which_addresses_have_accounts(live: httpx.AsyncClient, tenant) -> None:
    known = await tenant()
    unknown = "nobody-here@example.com"
    org_admin = await tenant()
    # Inviting: the same answer for an address with an account and one without.
    answers = [
        await live.post(f"{API}/invitations", headers=org_admin.headers, json={"email": e, "role": "viewer"})
        for e in (known.email, unknown)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert sorted(answers[0].json()) == sorted(answers[1].json())
    assert {a.json()["status"] for a in answers} == {"pending"}
    # Creating an account: refused the same way for both, before the address is looked at.
    created = [
        await live.post(
            f"{API}/users",
            headers=org_admin.headers,
            json={"email": e, "password": "Violet-Canal-93-Lantern", "role": "viewer"},
        )
        for e in (known.email, unknown)
    ]
    assert [(c.status_code, error_code(c)) for c in created] == [(403, "account_creation_restricted")] * 2
    # Locking out: an organisation's policy counts an unknown address exactly like a member's.
    await patch_org(live, org_admin.headers, password_policy={"lockout_threshold": 2})
    slug = await _slug(live, org_admin.headers)
    member = await tenant(org_id=org_admin.org_id, role="viewer")
    for email in (member.email, unknown):
        codes = [error_code(await login(live, email, WRONG, org=slug)) for _ in range(3)]
        assert codes == ["invalid_credentials", "invalid_credentials", "locked"], (email, codes)
        locked = await login(live, email, PASSWORD, org=slug)  # the right password learns nothing either
        assert (locked.status_code, error_code(locked)) == (403, "locked")
        assert set(locked.json()["error"]["details"]) == {"locked_until", "retry_after_s"}


async def test_the_instance_limit_holds_per_account_and_source(app: FastAPI, tenant) -> None:
    """Organisations cannot loosen it: a lenient policy still meets the instance's limit per
    address and client address, which another client address does not share."""
    owner = await tenant()
    app.state.settings = app.state.settings.model_copy(update={"login_lockout_threshold": 3})

    def client_from(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 4000)), base_url="http://testserver"
        )

    async with client_from("10.1.1.1") as guesser, client_from("10.2.2.2") as user:
        await patch_org(user, owner.headers, password_policy={"lockout_threshold": 100})
        assert (await login(guesser, owner.email)).status_code == 200  # control
        codes = [error_code(await login(guesser, owner.email, WRONG)) for _ in range(4)]
        assert codes == ["invalid_credentials"] * 3 + ["locked"]
        assert (await login(user, owner.email)).status_code == 200


async def test_a_lenient_organisation_is_no_way_to_test_passwords(live: httpx.AsyncClient, tenant) -> None:
    """Naming an organisation the victim does not belong to, with a policy that never locks,
    answers the right password exactly as a wrong one: guesses there learn nothing."""
    victim = await tenant()
    await patch_org(live, victim.headers, password_policy={"lockout_threshold": 3})
    lenient = await tenant()
    await patch_org(live, lenient.headers, password_policy={"lockout_threshold": 100})
    lenient_slug = await _slug(live, lenient.headers)
    assert (await login(live, victim.email)).status_code == 200  # control
    right, wrong = (
        await login(live, victim.email, PASSWORD, org=lenient_slug),
        await login(live, victim.email, WRONG, org=lenient_slug),
    )
    assert (
        (right.status_code, error_code(right)) == (wrong.status_code, error_code(wrong)) == (401, "invalid_credentials")
    )
    assert right.json()["error"]["message"] == wrong.json()["error"]["message"]
