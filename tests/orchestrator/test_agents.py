"""Agents and enrolment: a one-time token becomes an agent and its key; the key authenticates
only that live agent; tokens and keys are never stored, audited or listed; revocation reaches the
hub; status comes from the hub."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from orchestrator.app import create_app
from orchestrator.db.base import Base, utcnow
from orchestrator.models.agents import Agent, EnrolmentToken
from orchestrator.models.audit import AuditEntry
from orchestrator.runtime import agents as service
from orchestrator.services.audit import Actor
from orchestrator.settings import Settings

API = "/api/v1/agents"
TOKENS = f"{API}/enrolment-tokens"


async def make_token(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(TOKENS, headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def enrol(client: httpx.AsyncClient, token: str, name: str = "host-1", **body: Any) -> httpx.Response:
    return await client.post(f"{API}/enroll", json={"token": token, "name": name, **body})


async def enrolled(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "host-1", **body: Any
) -> dict[str, Any]:
    token = await make_token(client, headers)
    response = await enrol(client, token["token"], name, **body)
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


async def authenticate(app: FastAPI, key: str) -> Agent | None:
    async with app.state.db.transaction() as session:
        return await service.authenticate_agent(session, key)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_enrolment_token"
    assert error["message"] == "the enrolment token is not valid: it may be unknown, used, expired or revoked"


class StandInHub:
    """What the WebSocket hub answers (`services.agents.AgentHub`), set by the test."""

    def __init__(self) -> None:
        self.statuses: dict[uuid.UUID, str] = {}
        self.running: dict[uuid.UUID, list[uuid.UUID]] = {}
        self.disconnected: list[tuple[uuid.UUID, str]] = []

    def status_of(self, agent_id: uuid.UUID) -> str | None:
        return self.statuses.get(agent_id)

    def running_of(self, agent_id: uuid.UUID) -> Iterable[uuid.UUID]:
        return self.running.get(agent_id, [])

    async def disconnect(self, agent_id: uuid.UUID, *, reason: str) -> None:
        self.disconnected.append((agent_id, reason))


# --- enrolment ----------------------------------------------------------------------------------


async def test_a_token_enrols_an_agent_with_the_token_and_requested_labels(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    token = await make_token(
        client, owner.headers, labels=["windows", "sap"], expires_in_s=600, description="finance robots"
    )
    assert set(token) == {"id", "token", "labels", "expires_at", "description", "created_at"}
    assert token["token"].startswith("rpa_et_")
    assert len(token["token"]) == len("rpa_et_") + 32
    assert token["labels"] == ["sap", "windows"]

    response = await enrol(
        client, token["token"], "finance-01", hostname="FIN-PC-01", labels=["gpu", "sap"], version="1.2.3"
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"agent_id", "org_id", "agent_key", "name", "labels"}
    assert body["org_id"] == str(owner.org_id)
    assert body["labels"] == ["gpu", "sap", "windows"]
    assert body["agent_key"].startswith(f"rpa_ak_{uuid.UUID(body['agent_id']).hex}_")

    listing = (await client.get(API, headers=owner.headers)).json()
    assert listing["total"] == 1
    agent = listing["items"][0]
    assert agent["id"] == body["agent_id"]
    assert (agent["name"], agent["hostname"], agent["version"]) == ("finance-01", "FIN-PC-01", "1.2.3")
    assert agent["labels"] == ["gpu", "sap", "windows"]
    assert (agent["status"], agent["running"], agent["max_jobs"]) == ("offline", [], 1)
    assert agent["enrolled_with"] == token["id"]
    one = await client.get(f"{API}/{body['agent_id']}", headers=owner.headers)
    assert one.json() == agent

    tokens = (await client.get(TOKENS, headers=owner.headers)).json()
    assert [(t["id"], t["state"], t["agent_id"]) for t in tokens["items"]] == [(token["id"], "used", body["agent_id"])]


async def test_hosts_may_share_a_name(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    first = await enrolled(client, owner.headers, "build-agent")
    second = await enrolled(client, owner.headers, "build-agent")
    assert first["agent_id"] != second["agent_id"]
    assert (await client.get(API, headers=owner.headers, params={"q": "build"})).json()["total"] == 2


async def test_the_enrolment_is_audited_as_the_agent(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    agent = await enrolled(client, owner.headers, "audited-host", hostname="H1")
    async with app.state.db.transaction() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "agent.enrolled", AuditEntry.org_id == owner.org_id)
        )
    assert entry is not None
    assert entry.actor == "agent:audited-host"
    assert str(entry.actor_id) == agent["agent_id"]
    assert entry.target_id == agent["agent_id"]
    assert entry.summary["hostname"] == "H1"


async def test_a_token_enrols_once(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    token = await make_token(client, owner.headers)
    assert (await enrol(client, token["token"], "first")).status_code == 201
    assert_refused(await enrol(client, token["token"], "second"))
    assert (await client.get(API, headers=owner.headers)).json()["total"] == 1


@pytest.mark.parametrize("token", ["", "rpa_et_" + "x" * 32, "not-a-token", "rpa_ak_whatever"])
async def test_an_unknown_token_is_refused_alike(client: httpx.AsyncClient, token: str) -> None:
    assert_refused(await enrol(client, token))


async def test_an_expired_token_is_refused(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    token = await make_token(client, owner.headers, expires_in_s=60)
    async with app.state.db.transaction() as session:
        await session.execute(
            update(EnrolmentToken)
            .where(EnrolmentToken.id == uuid.UUID(token["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_refused(await enrol(client, token["token"]))
    listed = (await client.get(TOKENS, headers=owner.headers)).json()["items"]
    assert [t["state"] for t in listed] == ["expired"]


async def test_a_revoked_token_is_refused(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    token = await make_token(client, owner.headers)
    assert (await client.delete(f"{TOKENS}/{token['id']}", headers=owner.headers)).status_code == 204
    assert (await client.delete(f"{TOKENS}/{token['id']}", headers=owner.headers)).status_code == 204  # again
    assert_refused(await enrol(client, token["token"]))
    assert [t["state"] for t in (await client.get(TOKENS, headers=owner.headers)).json()["items"]] == ["revoked"]


async def test_a_used_token_cannot_be_revoked(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    token = await make_token(client, owner.headers)
    agent = (await enrol(client, token["token"])).json()
    response = await client.delete(f"{TOKENS}/{token['id']}", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "enrolment_token_used"
    assert response.json()["error"]["details"] == {"agent_id": agent["agent_id"]}


async def test_tokens_are_listed_by_state(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    active = await make_token(client, owner.headers, description="active")
    used = await make_token(client, owner.headers, description="used")
    revoked = await make_token(client, owner.headers, description="revoked")
    expired = await make_token(client, owner.headers, description="expired")
    assert (await enrol(client, used["token"])).status_code == 201
    await client.delete(f"{TOKENS}/{revoked['id']}", headers=owner.headers)
    async with app.state.db.transaction() as session:
        await session.execute(
            update(EnrolmentToken)
            .where(EnrolmentToken.id == uuid.UUID(expired["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    for state, token in (("active", active), ("used", used), ("revoked", revoked), ("expired", expired)):
        page = (await client.get(TOKENS, headers=owner.headers, params={"state": state})).json()
        assert [(t["id"], t["state"]) for t in page["items"]] == [(token["id"], state)], state
        assert page["total"] == 1
    everything = (await client.get(TOKENS, headers=owner.headers)).json()
    assert everything["total"] == 4
    assert [t["description"] for t in everything["items"]] == ["expired", "revoked", "used", "active"]


async def test_two_concurrent_enrolments_with_one_token_make_one_agent(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    for _ in range(3):
        token = await make_token(client, owner.headers)
        first, second = await asyncio.gather(
            enrol(client, token["token"], "racer-a"), enrol(client, token["token"], "racer-b")
        )
        assert sorted([first.status_code, second.status_code]) == [201, 401], (first.text, second.text)
        assert_refused(first if first.status_code == 401 else second)
    agents = (await client.get(API, headers=owner.headers)).json()
    assert agents["total"] == 3
    tokens = (await client.get(TOKENS, headers=owner.headers)).json()["items"]
    assert {t["agent_id"] for t in tokens} == {a["id"] for a in agents["items"]}


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"name": ""}, "body:name"),
        ({"name": "  "}, "body:name"),
        ({"name": "x" * 201}, "body:name"),
        ({"labels": ["has space"]}, "body:labels.0"),
        ({"labels": ["x" * 51]}, "body:labels.0"),
        ({"labels": [f"l{i}" for i in range(51)]}, "body:labels"),
        ({"hostname": "a\x00b"}, "body:hostname"),
    ],
)
async def test_an_invalid_enrolment_names_the_field(
    client: httpx.AsyncClient, tenant: Any, body: dict[str, Any], location: str
) -> None:
    owner = await tenant()
    token = await make_token(client, owner.headers)
    response = await client.post(f"{API}/enroll", json={"token": token["token"], "name": "ok", **body})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["location"] == location
    assert (await enrol(client, token["token"])).status_code == 201  # the token was not spent


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in_s": 59},
        {"expires_in_s": 30 * 24 * 3600 + 1},
        {"labels": [""]},
        {"description": "d" * 501},
        {"token": "mine"},
    ],
)
async def test_an_invalid_token_request_is_refused(
    client: httpx.AsyncClient, tenant: Any, body: dict[str, Any]
) -> None:
    owner = await tenant()
    assert (await client.post(TOKENS, headers=owner.headers, json=body)).status_code == 422


# --- agent keys ---------------------------------------------------------------------------------


async def test_the_key_authenticates_only_its_live_agent(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    mine = await enrolled(client, owner.headers, "mine")
    other = await enrolled(client, owner.headers, "other")
    key = mine["agent_key"]
    agent = await authenticate(app, key)
    assert agent is not None
    assert str(agent.id) == mine["agent_id"]

    prefix, secret = key.rsplit("_", 1)[0], key.split("_", 3)[3]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    other_id = uuid.UUID(other["agent_id"]).hex
    for forged in (
        tampered,
        f"rpa_ak_{other_id}_{secret}",
        f"rpa_ak_{uuid.uuid4().hex}_{secret}",
        key + "x",
        prefix + "_",
        key.replace("rpa_ak_", "rpa_xx_"),
        "",
        "rpa_ak_",
        "rpa_ak_nothex_" + secret,
        other["agent_key"][:-2] + key[-2:],
    ):
        assert await authenticate(app, forged) is None, forged
    assert await authenticate(app, other["agent_key"]) is not None

    revoked = await client.post(f"{API}/{mine['agent_id']}/revoke", headers=owner.headers)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert await authenticate(app, key) is None
    assert (await client.delete(f"{API}/{other['agent_id']}", headers=owner.headers)).status_code == 204
    assert await authenticate(app, other["agent_key"]) is None


async def test_rotate_key_route_shows_the_new_key_once_and_the_old_one_stops_working(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    agent = await enrolled(client, owner.headers, "rotating")
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    stranger = await tenant()
    path = f"{API}/{agent['agent_id']}/rotate-key"

    assert (await client.post(path, headers=viewer.headers)).json()["error"]["details"] == {
        "permission": "agents:manage"
    }
    assert (await client.post(path, headers=stranger.headers)).status_code == 404  # another organisation's agent
    assert await authenticate(app, agent["agent_key"]) is not None  # neither refusal changed anything

    response = await client.post(path, headers=owner.headers)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert set(rotated) == {"agent_id", "name", "agent_key"}
    assert (rotated["agent_id"], rotated["name"]) == (agent["agent_id"], "rotating")
    assert rotated["agent_key"].startswith(f"rpa_ak_{uuid.UUID(agent['agent_id']).hex}_")
    assert await authenticate(app, agent["agent_key"]) is None
    assert await authenticate(app, rotated["agent_key"]) is not None
    shown = (await client.get(f"{API}/{agent['agent_id']}", headers=owner.headers)).text
    audit = (await client.get("/api/v1/audit", headers=owner.headers)).json()["items"]
    assert rotated["agent_key"] not in shown + str(audit)
    assert [e["action"] for e in audit if e["action"] == "agent.rotate_key"] == ["agent.rotate_key"]

    await client.post(f"{API}/{agent['agent_id']}/revoke", headers=owner.headers)
    refused = await client.post(path, headers=owner.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "agent_revoked"
    assert await authenticate(app, rotated["agent_key"]) is None


async def test_a_rotated_key_replaces_the_old_one(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    agent = await enrolled(client, owner.headers)
    actor = Actor(owner.user_id, owner.email)
    async with app.state.db.transaction() as session:
        _row, new_key = await service.rotate_agent_key(session, actor, owner.org_id, uuid.UUID(agent["agent_id"]))
    assert new_key != agent["agent_key"]
    assert await authenticate(app, agent["agent_key"]) is None
    assert await authenticate(app, new_key) is not None


async def test_tokens_and_keys_are_never_stored_audited_or_listed(  # noqa: C901
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Any,
) -> None:
    owner = await tenant()
    spare = await make_token(client, owner.headers, labels=["spare"])
    agent = await enrolled(client, owner.headers, "secretive", labels=["x"])
    async with app.state.db.transaction() as session:
        _row, rotated = await service.rotate_agent_key(
            session, Actor(owner.user_id, owner.email), owner.org_id, uuid.UUID(agent["agent_id"])
        )
    used_token = (await client.get(TOKENS, headers=owner.headers, params={"state": "used"})).json()["items"][0]
    secrets_: list[str] = [spare["token"], spare["token"].removeprefix("rpa_et_"), agent["agent_key"], rotated]
    secrets_ += [key.split("_", 3)[3] for key in (agent["agent_key"], rotated)]  # the secret parts alone
    needles = {s.encode() for s in secrets_}

    responses = [
        await client.get(path, headers=owner.headers)
        for path in (TOKENS, API, f"{API}/{agent['agent_id']}", "/api/v1/audit")
    ]
    assert "token" not in responses[0].json()["items"][0]
    assert used_token["state"] == "used"
    for response in responses:
        assert response.status_code == 200
        for secret in secrets_:
            assert secret not in response.text

    async with app.state.db.transaction() as session:
        audit_rows = (await session.scalars(select(AuditEntry).where(AuditEntry.org_id == owner.org_id))).all()
        token_hashes = set((await session.scalars(select(EnrolmentToken.token_hash))).all())
        key_hash = await session.scalar(select(Agent.key_hash).where(Agent.id == uuid.UUID(agent["agent_id"])))
    assert {"enrolment_token.create", "agent.enrolled", "agent.rotate_key"} <= {row.action for row in audit_rows}
    audit_text = "".join(str((row.actor, row.action, row.target_id, row.summary)) for row in audit_rows)
    for secret in secrets_:
        assert secret not in audit_text
    assert hashlib.sha256(spare["token"].encode()).hexdigest() in token_hashes
    assert key_hash == hashlib.sha256(rotated.split("_", 3)[3].encode()).hexdigest()

    dump = bytearray()
    async with app.state.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            exists = await conn.run_sync(lambda sync, name=table.name: sync.dialect.has_table(sync, name))
            if exists:
                for row in (await conn.execute(table.select())).all():
                    dump += b"\x00".join(str(item).encode() for item in row) + b"\n"
    assert b"rpa_et_" not in dump
    assert b"rpa_ak_" not in dump
    for needle in needles:
        assert needle not in dump, needle
    if app.state.db.is_sqlite:
        database = app.state.settings.data_dir / "orchestrator.db"
        for path in (database, database.with_name("orchestrator.db-wal")):
            content = path.read_bytes()
            for needle in needles:
                assert needle not in content, (path.name, needle)
        async with app.state.db.engine.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        content = database.read_bytes()
        for needle in needles:
            assert needle not in content, needle


# --- managing agents ------------------------------------------------------------------------------


async def test_a_viewer_can_read_but_not_manage(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    agent = await enrolled(client, owner.headers)
    token = await make_token(client, owner.headers)
    assert (await client.get(API, headers=viewer.headers)).json()["total"] == 1
    assert (await client.get(f"{API}/{agent['agent_id']}", headers=viewer.headers)).status_code == 200
    assert (await client.get(TOKENS, headers=viewer.headers)).json()["total"] == 2
    refused = [
        await client.post(TOKENS, headers=viewer.headers, json={}),
        await client.delete(f"{TOKENS}/{token['id']}", headers=viewer.headers),
        await client.patch(f"{API}/{agent['agent_id']}", headers=viewer.headers, json={"max_jobs": 2}),
        await client.post(f"{API}/{agent['agent_id']}/revoke", headers=viewer.headers),
        await client.delete(f"{API}/{agent['agent_id']}", headers=viewer.headers),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["details"] == {"permission": "agents:manage"}


async def test_another_organisation_sees_nothing(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    stranger = await tenant()
    agent = await enrolled(client, owner.headers)
    token = await make_token(client, owner.headers)
    for method, path in (
        ("GET", f"{API}/{agent['agent_id']}"),
        ("PATCH", f"{API}/{agent['agent_id']}"),
        ("POST", f"{API}/{agent['agent_id']}/revoke"),
        ("DELETE", f"{API}/{agent['agent_id']}"),
        ("DELETE", f"{TOKENS}/{token['id']}"),
    ):
        response = await client.request(
            method, path, headers=stranger.headers, json={"name": "x"} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get(API, headers=stranger.headers)).json()["total"] == 0
    assert (await client.get(TOKENS, headers=stranger.headers)).json()["total"] == 0


async def test_patch_changes_name_labels_and_job_limit(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    agent = await enrolled(client, owner.headers, "old", labels=["a"])
    path = f"{API}/{agent['agent_id']}"
    patched = await client.patch(
        path, headers=owner.headers, json={"name": "new", "labels": ["z", "b", "z"], "max_jobs": 4}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["labels"], patched.json()["max_jobs"]) == ("new", ["b", "z"], 4)
    for body in ({"max_jobs": 0}, {"max_jobs": 1001}, {"name": ""}, {"labels": ["bad label"]}, {"key_hash": "x"}):
        assert (await client.patch(path, headers=owner.headers, json=body)).status_code == 422, body
    async with app.state.db.transaction() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "agent.update", AuditEntry.target_id == agent["agent_id"])
        )
    assert entry is not None
    assert entry.summary["after"] == {"name": "new", "labels": ["b", "z"], "max_jobs": 4}


async def test_list_filters_by_label_text_and_status(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    sap = await enrolled(client, owner.headers, "sap-runner", labels=["sap", "windows"])
    web = await enrolled(client, owner.headers, "web-runner", hostname="LINUX-7", labels=["linux"])
    gone = await enrolled(client, owner.headers, "retired", labels=["sap"])
    await client.post(f"{API}/{gone['agent_id']}/revoke", headers=owner.headers)

    async def names(**params: str) -> list[str]:
        page = (await client.get(API, headers=owner.headers, params=params)).json()
        assert page["total"] == len(page["items"])
        return [item["name"] for item in page["items"]]

    assert await names() == ["retired", "sap-runner", "web-runner"]
    assert await names(label="sap") == ["retired", "sap-runner"]
    assert await names(label="sa") == []
    assert await names(q="linux") == ["web-runner"]
    assert await names(q="RUNNER", label="windows") == ["sap-runner"]
    assert await names(q="%") == []
    assert await names(status="revoked") == ["retired"]
    assert await names(status="offline") == ["sap-runner", "web-runner"]
    assert await names(status="online") == []

    hub = StandInHub()
    execution = uuid.uuid4()
    hub.statuses = {
        uuid.UUID(sap["agent_id"]): "busy",
        uuid.UUID(web["agent_id"]): "online",
        uuid.UUID(gone["agent_id"]): "online",
    }
    hub.running = {uuid.UUID(sap["agent_id"]): [execution]}
    app.state.agent_hub = hub
    assert await names(status="busy") == ["sap-runner"]
    assert await names(status="online") == ["web-runner"]
    assert await names(status="offline") == []
    assert await names(status="revoked") == ["retired"]
    one = (await client.get(f"{API}/{sap['agent_id']}", headers=owner.headers)).json()
    assert (one["status"], one["running"]) == ("busy", [str(execution)])
    hub.statuses[uuid.UUID(web["agent_id"])] = "confused"  # not a status the API knows
    assert (await client.get(f"{API}/{web['agent_id']}", headers=owner.headers)).json()["status"] == "offline"
    assert (await client.get(API, headers=owner.headers, params={"status": "nonsense"})).status_code == 422


async def test_revoking_and_deleting_tell_the_hub(app: FastAPI, client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    hub = StandInHub()
    app.state.agent_hub = hub
    revoked = await enrolled(client, owner.headers, "to-revoke")
    deleted = await enrolled(client, owner.headers, "to-delete")
    hub.statuses[uuid.UUID(revoked["agent_id"])] = "online"

    response = await client.post(f"{API}/{revoked['agent_id']}/revoke", headers=owner.headers)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["running"]) == ("revoked", [])
    assert response.json()["revoked_at"] is not None
    again = await client.post(f"{API}/{revoked['agent_id']}/revoke", headers=owner.headers)
    assert again.json()["revoked_at"] == response.json()["revoked_at"]
    assert (await client.delete(f"{API}/{deleted['agent_id']}", headers=owner.headers)).status_code == 204
    assert hub.disconnected == [
        (uuid.UUID(revoked["agent_id"]), "revoked"),
        (uuid.UUID(revoked["agent_id"]), "revoked"),
        (uuid.UUID(deleted["agent_id"]), "revoked"),
    ]

    assert (await client.get(f"{API}/{deleted['agent_id']}", headers=owner.headers)).status_code == 404
    assert (await client.delete(f"{API}/{deleted['agent_id']}", headers=owner.headers)).status_code == 404
    assert [a["name"] for a in (await client.get(API, headers=owner.headers)).json()["items"]] == ["to-revoke"]
    async with app.state.db.transaction() as session:
        row = await session.get(Agent, uuid.UUID(deleted["agent_id"]))
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.target_id.in_([revoked["agent_id"], deleted["agent_id"]]))
            )
        ).all()
    assert row is not None
    assert row.deleted_at is not None
    assert row.revoked_at is not None
    assert sorted(actions) == ["agent.delete", "agent.enrolled", "agent.enrolled", "agent.revoke"]


async def test_the_hub_is_told_only_after_the_revocation_is_committed(
    app: FastAPI, client: httpx.AsyncClient, tenant: Any
) -> None:
    owner = await tenant()
    agent = await enrolled(client, owner.headers)
    seen: list[Agent | None] = []

    class CheckingHub(StandInHub):
        async def disconnect(self, agent_id: uuid.UUID, *, reason: str) -> None:
            seen.append(await authenticate(app, agent["agent_key"]))  # what a reconnect would find

    app.state.agent_hub = CheckingHub()
    assert (await client.post(f"{API}/{agent['agent_id']}/revoke", headers=owner.headers)).status_code == 200
    assert seen == [None]


async def test_enrolment_is_under_the_login_rate_limit(settings: Settings) -> None:
    limited = settings.model_copy(update={"login_rate_limit_per_minute": 2})
    application = create_app(limited)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for _ in range(2):
                assert_refused(await enrol(http, "rpa_et_guess"))
            response = await enrol(http, "rpa_et_guess")
            assert response.status_code == 429
            assert response.json()["error"]["code"] == "rate_limited"
