"""Queue and dispatch, leases and deadlines, with agents plugged into the hub in memory.

Each fake agent is an `AgentLink` whose `send` records what the orchestrator sent it, so the
real dispatcher and lease reaper run (on SQLite and PostgreSQL) without sockets.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from orchestrator.models.agents import Agent
from orchestrator.models.executions import Execution
from orchestrator.runtime.dispatch import Needs, why_waiting
from orchestrator.runtime.hub import AgentLink
from orchestrator.runtime.leases import LeaseReaper
from orchestrator.services.credential_access import uses_of
from orchestrator.services.execution_journal import resume_seed
from orchestrator.services.vault import secrets_for_agent
from orchestrator.settings import Settings
from shared.protocol import JobAssign, JobCancel
from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator.conftest import TenantFactory

API = "/api/v1"


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
        agent_grace_s=0.3,
        cancel_grace_s=0.3,
        heartbeat_interval_s=0.2,
        missed_heartbeats=2,
    )


def flow(
    name: str,
    *,
    requires: list[str] | None = None,
    max_concurrent: int | None = None,
    nodes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if max_concurrent is not None:
        settings["max_concurrent_executions"] = max_concurrent
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "requires": requires or [],
        "settings": settings,
        "nodes": nodes or [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
    }


class FakeAgent:
    def __init__(
        self,
        app: FastAPI,
        org_id: uuid.UUID,
        name: str = "fake",
        *,
        capabilities: tuple[str, ...] = (),
        labels: tuple[str, ...] = (),
        max_jobs: int = 1,
        steps: tuple[str, ...] = (),
        beating: bool = True,
    ) -> None:
        self.sent: list[Any] = []
        self.closed: list[tuple[int, str]] = []
        self.link = AgentLink(
            agent_id=uuid.uuid4(),
            org_id=org_id,
            name=name,
            send=self._send,
            close=self._close,
            capabilities=frozenset(capabilities),
            labels=frozenset(labels),
            steps=frozenset(steps),
            max_jobs=max_jobs,
        )
        self.hub = app.state.agent_hub
        self.beating = beating
        self._beats: asyncio.Task[None] | None = None

    async def _send(self, message: Any) -> None:
        self.sent.append(message)

    async def _close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))

    def connect(self) -> FakeAgent:
        self.hub.register(self.link)
        if self.beating:
            self._beats = asyncio.get_running_loop().create_task(self._beat())
        return self

    async def _beat(self) -> None:
        while not self.closed:
            self.hub.beat(self.link)
            await asyncio.sleep(0.05)

    @property
    def assigned(self) -> list[str]:
        return [m.execution_id for m in self.sent if isinstance(m, JobAssign)]

    def gone(self, *, since: float | None = None) -> None:
        """Its socket closed (at `since`, monotonic; default now): no more heartbeats."""
        self.closed.append((1006, "gone"))
        self.hub.unregister(self.link, gone_since=since)

    def finish(self, execution_id: str) -> None:
        """Free the slot as a finished job would (the state itself is not under test here)."""
        self.link.running.pop(uuid.UUID(execution_id), None)
        self.hub.on_free()


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def start(client: Any, headers: dict[str, str], workflow_id: uuid.UUID, **body: Any) -> str:
    response = await client.post(f"{API}/executions", json={"workflow_id": str(workflow_id), **body}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def get(client: Any, headers: dict[str, str], execution_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/executions/{execution_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def get_once(
    client: Any, headers: dict[str, str], execution_id: str, state: str, within: float = 5.0
) -> dict[str, Any]:
    """The execution as soon as it is in `state` (or as it is after `within` seconds)."""
    deadline = asyncio.get_running_loop().time() + within
    row = await get(client, headers, execution_id)
    while row["state"] != state and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        row = await get(client, headers, execution_id)
    return row


async def held_by_a_fake(app: FastAPI, client: Any, owner: Any, name: str) -> tuple[str, FakeAgent]:
    """A started execution of a one-step workflow, assigned to a fake agent called `name`."""
    workflow = await make_workflow(app, owner.org_id, document=flow(name))
    execution = await start(client, owner.headers, workflow)
    agent = FakeAgent(app, owner.org_id, name).connect()
    await eventually(lambda: agent.assigned == [execution])
    return execution, agent


async def test_priority_then_fifo_and_dispatch_the_moment_an_agent_is_free(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("Queue"))
    low = await start(client, owner.headers, workflow, priority="low")
    normal_1 = await start(client, owner.headers, workflow)
    urgent = await start(client, owner.headers, workflow, priority="urgent")
    normal_2 = await start(client, owner.headers, workflow)
    assert (await get(client, owner.headers, low))["waiting_reason"] == "no agent of the organisation is online"

    agent = FakeAgent(app, owner.org_id).connect()
    order = []
    for _ in range(4):
        await eventually(lambda: len(agent.assigned) == len(order) + 1)
        order.append(agent.assigned[-1])
        assert (await get(client, owner.headers, order[-1]))["state"] == "assigned"
        agent.finish(order[-1])
    assert order == [urgent, normal_1, normal_2, low]
    job = agent.sent[0]
    assert job.attempt == 1
    assert job.flow["nodes"][0]["type"] == "core.wait"
    assert job.journal == []


async def test_capabilities_labels_and_steps_decide_which_agent_gets_it(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    browser = await make_workflow(app, owner.org_id, document=flow("Web", requires=["browser", "label:finance"]))
    execution = await start(client, owner.headers, browser)
    plain = FakeAgent(app, owner.org_id, "plain", capabilities=("core",), labels=("finance",)).connect()
    await asyncio.sleep(0.2)
    assert plain.assigned == []
    reason = (await get(client, owner.headers, execution))["waiting_reason"]
    assert reason == "no online agent has capability 'browser'"

    wrong_label = FakeAgent(app, owner.org_id, "hr", capabilities=("browser",), labels=("hr",)).connect()
    await asyncio.sleep(0.2)
    assert wrong_label.assigned == []
    no_step = FakeAgent(
        app, owner.org_id, "old", capabilities=("browser",), labels=("finance",), steps=("core.log",)
    ).connect()
    await asyncio.sleep(0.2)
    assert no_step.assigned == []
    assert "step 'core.wait'" in (await get(client, owner.headers, execution))["waiting_reason"]

    right = FakeAgent(
        app,
        owner.org_id,
        "right",
        capabilities=("browser", "core"),
        labels=("finance", "x"),
        steps=("core.wait", "core.log"),
    ).connect()
    await eventually(lambda: right.assigned == [execution])
    other_org = await tenant()
    stranger = FakeAgent(app, other_org.org_id, "stranger", capabilities=("browser",), labels=("finance",)).connect()
    await start(client, owner.headers, browser)
    await asyncio.sleep(0.2)
    assert stranger.assigned == []


async def test_workflow_concurrency_and_agent_slots_hold_executions_back(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    # The module's 0.4 s to unresponsive is not what this test is about: a loop held that long
    # (once in a full run) made the busy agent's reason "unresponsive".
    app.state.agent_hub.missed_heartbeats = 25
    owner = await tenant()
    limited = await make_workflow(app, owner.org_id, document=flow("Limited", max_concurrent=1))
    first, second = [await start(client, owner.headers, limited) for _ in range(2)]
    agent = FakeAgent(app, owner.org_id, max_jobs=3).connect()
    await eventually(lambda: agent.assigned == [first])
    await asyncio.sleep(0.2)
    assert agent.assigned == [first]
    assert (await get(client, owner.headers, second))[
        "waiting_reason"
    ] == "the workflow's concurrency limit (1) is reached"

    free = await make_workflow(app, owner.org_id, document=flow("Free"))
    more = [await start(client, owner.headers, free) for _ in range(3)]
    await eventually(lambda: len(agent.assigned) == 3)
    assert agent.assigned[1:] == more[:2]
    assert (await get(client, owner.headers, more[2]))["waiting_reason"] == "all 1 matching agent(s) are busy"


async def test_a_gone_agent_loses_its_execution_which_is_requeued_and_resumed_elsewhere(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    execution, first = await held_by_a_fake(app, client, owner, "first")
    first.gone()
    second = FakeAgent(app, owner.org_id, "second").connect()
    await eventually(lambda: second.assigned == [execution])
    job = second.sent[-1]
    assert job.attempt == 2
    row = await get(client, owner.headers, execution)
    assert row["attempt"] == 2
    assert row["state"] == "assigned"
    history = await client.get(f"{API}/executions/{execution}/transitions", headers=owner.headers)
    moves = [(t["from_state"], t["to_state"]) for t in history.json()["items"]]
    assert ("assigned", "lost") in moves
    assert ("lost", "queued") in moves


async def test_a_requeued_execution_names_the_agent_it_came_from_and_why_it_waits(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    execution, first = await held_by_a_fake(app, client, owner, "laptop-7")
    async with app.state.db.transaction() as session:  # the row an enrolment leaves
        session.add(Agent(id=first.link.agent_id, org_id=owner.org_id, name="laptop-7", key_hash="x" * 64))
    assert (await get(client, owner.headers, execution))["previous_agent_id"] is None
    first.gone()
    row = await get_once(client, owner.headers, execution, "queued")
    assert (row["state"], row["agent_id"], row["previous_agent_id"]) == ("queued", None, str(first.link.agent_id))
    assert row["waiting_reason"] == (
        "no agent of the organisation is online; agent laptop-7, which it was requeued "
        "from, goes on with it if it comes back before another agent takes it"
    )


async def test_an_agent_shaking_hands_keeps_its_execution_for_one_more_grace(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    execution, agent = await held_by_a_fake(app, client, owner, "back")
    hub = app.state.agent_hub
    reaper = LeaseReaper(app.state.db, hub, grace_s=0.3, cancel_grace_s=30)
    agent.gone(since=time.monotonic() - 10)  # gone far longer than the grace...
    hub.connecting(agent.link.agent_id)  # ...but its hello is being reconciled now (no await in between)
    assert hub.gone_for(agent.link.agent_id) < 0.3
    assert await reaper.reap_once() == 0
    assert (await get(client, owner.headers, execution))["state"] == "assigned"
    # The handshake never ends: one grace later it is requeued after all.
    row = await get_once(client, owner.headers, execution, "queued")
    assert (row["state"], row["attempt"]) == ("queued", 2)


async def test_a_silent_agent_is_closed_and_its_work_requeued(app: FastAPI, client: Any, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("Silent"))
    execution = await start(client, owner.headers, workflow)
    silent = FakeAgent(app, owner.org_id, "silent", beating=False).connect()
    await eventually(lambda: silent.assigned == [execution])
    assert app.state.agent_hub.status_of(silent.link.agent_id) == "busy"
    await eventually(lambda: app.state.agent_hub.status_of(silent.link.agent_id) == "unresponsive", 3)
    await eventually(lambda: silent.closed, 5)
    assert silent.closed[0][1] == "missed heartbeats"
    await eventually(lambda: app.state.agent_hub.status_of(silent.link.agent_id) is None)
    assert (await get(client, owner.headers, execution))["state"] in ("queued", "assigned")


async def test_an_agent_that_beats_again_after_being_late_gets_the_work_that_waited(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("Back"))
    agent = FakeAgent(app, owner.org_id, "late", beating=False).connect()
    hub = app.state.agent_hub
    # Late, not yet closed: the lease reaper would close it 0.25 s later with this app's grace,
    # which a slow moment of the test itself must not reach.
    app.state.lease_reaper.grace_s = 30
    agent.link.last_beat -= hub.heartbeat_interval_s * hub.missed_heartbeats + 0.05
    assert hub.status_of(agent.link.agent_id) == "unresponsive"
    execution = await start(client, owner.headers, workflow)
    await asyncio.sleep(0.1)
    assert agent.assigned == []
    assert (await get(client, owner.headers, execution))["state"] == "queued"
    hub.beat(agent.link)  # on time again: nothing else happens that would wake the dispatcher
    await eventually(lambda: agent.assigned == [execution], 2)


async def test_a_pass_reads_past_what_no_agent_can_take_and_assigns_each_execution_once(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    browser = await make_workflow(app, owner.org_id, document=flow("Browser", requires=["browser"]))
    plain = await make_workflow(app, owner.org_id, document=flow("Plain"))
    for _ in range(15):  # oldest first: a page of 20 holds these and 5 of the plain ones
        await start(client, owner.headers, browser)
    takeable = [await start(client, owner.headers, plain) for _ in range(10)]
    agent = FakeAgent(app, owner.org_id, max_jobs=10).connect()  # 10 free slots: pages of 20
    await eventually(lambda: len(agent.assigned) >= 10)
    await asyncio.sleep(0.2)
    assert sorted(agent.assigned) == sorted(takeable)  # the second page skipped what the first assigned
    for execution in takeable:
        assert (await get(client, owner.headers, execution))["state"] == "assigned"


async def test_deadlines_and_ignored_cancels_end_executions_without_an_agent(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("Deadline"))
    late = await start(client, owner.headers, workflow, deadline_s=0.2)
    await eventually(lambda: True)
    for _ in range(100):
        if (await get(client, owner.headers, late))["state"] == "timed_out":
            break
        await asyncio.sleep(0.05)
    assert (await get(client, owner.headers, late))["state"] == "timed_out"

    held = await start(client, owner.headers, workflow)
    agent = FakeAgent(app, owner.org_id).connect()
    await eventually(lambda: agent.assigned == [held])
    cancel = await client.post(f"{API}/executions/{held}/cancel", headers=owner.headers, json={"reason": "stop"})
    assert cancel.status_code == 200
    assert cancel.json()["state"] == "assigned"  # it waits for the agent
    await eventually(lambda: any(isinstance(m, JobCancel) and not m.force for m in agent.sent))
    for _ in range(100):
        if (await get(client, owner.headers, held))["state"] == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert (await get(client, owner.headers, held))["state"] == "cancelled"
    assert any(isinstance(m, JobCancel) and m.force for m in agent.sent)


async def test_a_job_carries_only_the_secrets_its_flow_reads(app: FastAPI, client: Any, tenant: TenantFactory) -> None:
    owner = await tenant()
    for name, value in (
        ("erp", {"username": "bot", "password": "pw-erp-123456"}),
        ("unused", {"token": "tok-unused-987654"}),
    ):
        kind = "username_password" if "password" in value else "token"
        made = await client.post(
            f"{API}/credentials", headers=owner.headers, json={"name": name, "kind": kind, "value": value}
        )
        assert made.status_code == 201, made.text
    document = flow(
        "Secret",
        nodes=[
            {
                "id": "login",
                "type": "core.log",
                "params": {"message": "as {{ secrets['erp.username'] }}: {{ secrets.erp }}"},
            }
        ],
    )
    workflow = await make_workflow(app, owner.org_id, document=document)
    await start(client, owner.headers, workflow)
    agent = FakeAgent(app, owner.org_id).connect()
    await eventually(lambda: agent.assigned)
    job = agent.sent[0]
    assert job.secrets == {"erp": "pw-erp-123456", "erp.username": "bot", "erp.password": "pw-erp-123456"}
    assert "pw-erp-123456" not in repr(job)
    audit = await client.get(f"{API}/audit", headers=owner.headers, params={"action": "credential.reveal"})
    assert audit.status_code == 200
    assert "pw-erp" not in audit.text


async def test_retry_with_resume_hands_the_parent_journal_without_its_failure(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id, document=flow("Resume"))
    parent = await start(client, owner.headers, workflow)
    agent = FakeAgent(app, owner.org_id).connect()
    await eventually(lambda: agent.assigned == [parent])
    from orchestrator.runtime.agent_session import AgentSession
    from shared.protocol import JobAccepted, JournalBatch, ServerConnection, WireEvent

    connection = ServerConnection(str(agent.link.agent_id), 1.0)
    connection.receive(_hello())
    connection.assign(parent, 1)
    session = AgentSession(app.state.db, app.state.agent_hub, agent.link, connection, app.state.agent_writer)
    await session.on_accepted(JobAccepted(execution_id=parent, attempt=1))
    events = [
        WireEvent(seq=1, type="execution.started", path="", data={"inputs": {}}, ts=1.0),
        WireEvent(seq=2, type="node.started", path="wait", data={"attempt": 1}, ts=1.0),
        WireEvent(seq=3, type="node.failed", path="wait", data={"attempt": 1, "will_retry": False}, ts=1.0),
        WireEvent(seq=4, type="execution.finished", path="", data={"status": "failed", "outputs": {}}, ts=1.0),
    ]
    replies = await session.on_journal(JournalBatch(execution_id=parent, attempt=1, events=events))
    assert replies[0].seq == 4
    assert (await get(client, owner.headers, parent))["state"] == "failed"
    agent.finish(parent)

    retry = await client.post(f"{API}/executions/{parent}/retry", headers=owner.headers, json={"resume": True})
    assert retry.status_code == 201
    child = retry.json()["id"]
    await eventually(lambda: child in agent.assigned)
    job = agent.sent[-1]
    assert [(e.seq, e.type) for e in job.journal] == [(1, "execution.started"), (2, "node.started")]
    stored = await client.get(f"{API}/executions/{child}/events", headers=owner.headers)
    assert [e["type"] for e in stored.json()["items"]] == ["execution.started", "node.started"]


def _hello() -> str:
    from shared.protocol import Hello, encode

    return encode(
        Hello(
            protocol_version=1, name="fake", version="1", capabilities=[], labels=[], max_jobs=1, steps=[], running=[]
        )
    )


def test_needs_of_a_document() -> None:
    document = flow(
        "N",
        requires=["browser", "label:eu"],
        max_concurrent=2,
        nodes=[
            {
                "id": "loop",
                "type": "control.foreach",
                "params": {"items": "{{ [1] }}"},
                "body": {"nodes": [{"id": "x", "type": "core.log", "params": {"message": "{{ secrets.api }}"}}]},
            }
        ],
    )
    needs = Needs.of(document)
    assert needs.capabilities == {"browser"}
    assert needs.labels == {"eu"}
    assert needs.steps == {"control.foreach", "core.log"}
    assert needs.secrets == {"api"}
    assert needs.max_concurrent == 2


def test_credentials_named_in_step_params_are_needed_and_used_like_template_secrets() -> None:
    # A step takes a credential by name in a marked param; the agent can only read what the
    # job brings, so the name counts as much as a `secrets.*` template does (delivery and access).
    document = flow(
        "N",
        nodes=[
            {
                "id": "call",
                "type": "http.request",
                "params": {"url": "https://x", "auth": {"kind": "bearer", "credential": "api"}},
            },
            {
                "id": "db",
                "type": "db.query",
                "params": {"url": "sqlite:///x.db", "sql": "SELECT 1", "credential": "{{ inputs.db }}"},
            },
            {"id": "log", "type": "core.log", "params": {"message": "{{ secrets['erp.username'] }}"}},
        ],
    )
    needs = Needs.of(document)
    assert needs.secrets == {"api", "erp.username"}
    assert needs.credentials == {"api", "erp"}
    assert uses_of(document) == {"api": ["call: params.auth.credential"], "erp": ["log: params.message"]}


def test_fits_agrees_with_unmet_for_every_kind_of_lack() -> None:
    needs = Needs.of(flow("N", requires=["browser", "label:eu"], nodes=[{"id": "x", "type": "core.log"}]))

    def link(capabilities: set[str], labels: set[str], steps: set[str]) -> AgentLink:
        return AgentLink(
            agent_id=uuid.uuid4(),
            org_id=uuid.uuid4(),
            name="a",
            send=None,
            close=None,  # type: ignore[arg-type]
            capabilities=frozenset(capabilities),
            labels=frozenset(labels),
            steps=frozenset(steps),
        )

    cases = [
        link({"browser", "ocr"}, {"eu"}, {"core.log"}),
        link({"browser"}, {"eu"}, set()),
        link({"ocr"}, {"eu"}, {"core.log"}),
        link({"browser"}, {"us"}, {"core.log"}),
        link({"browser"}, {"eu"}, {"core.noop"}),
    ]
    assert [needs.fits(c) for c in cases] == [True, True, False, False, False]
    assert [needs.fits(c) for c in cases] == [not needs.unmet(c) for c in cases]


def test_secrets_are_flattened_for_the_engine_and_resume_seeds_drop_failures() -> None:
    assert secrets_for_agent({"kv": {"values": {"a": "1", "b": "2"}}, "t": {"token": "x"}}) == {
        "kv.a": "1",
        "kv.b": "2",
        "t": "x",
        "t.token": "x",
    }

    class Row:
        def __init__(self, seq: int, kind: str, data: dict[str, Any]) -> None:
            self.seq, self.type, self.path, self.data, self.ts = seq, kind, "n", data, 0.0

    rows = [
        Row(1, "execution.started", {}),
        Row(2, "node.failed", {"will_retry": True}),
        Row(3, "node.failed", {"will_retry": False}),
        Row(4, "node.failed", {"handled": "continue"}),
        Row(5, "execution.finished", {}),
    ]
    assert [(e["seq"], e["type"]) for e in resume_seed(rows)] == [  # type: ignore[arg-type]
        (1, "execution.started"),
        (2, "node.failed"),
        (3, "node.failed"),
    ]


async def test_why_waiting_is_none_once_dispatched(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    async with app.state.db.transaction() as session:
        execution = Execution(
            state="running", org_id=owner.org_id, workflow_id=uuid.uuid4(), version_id=uuid.uuid4(), version_number=1
        )
        assert await why_waiting(session, app.state.agent_hub, execution) is None


async def test_a_missing_credential_fails_the_execution_and_dispatch_goes_on(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    broken = await make_workflow(
        app,
        owner.org_id,
        document=flow(
            "Broken", nodes=[{"id": "x", "type": "core.log", "params": {"message": "{{ secrets.nowhere }}"}}]
        ),
    )
    fine = await make_workflow(app, owner.org_id, document=flow("Fine"))
    failing = await start(client, owner.headers, broken)
    working = await start(client, owner.headers, fine)
    agent = FakeAgent(app, owner.org_id).connect()
    await eventually(lambda: agent.assigned == [working])
    row = await get(client, owner.headers, failing)
    assert row["state"] == "failed"
    assert row["error"]["kind"] == "credentials"
    assert "nowhere" in row["error"]["message"]


async def test_a_credential_narrowed_after_the_start_is_not_revealed(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    made = await client.post(
        f"{API}/credentials",
        headers=owner.headers,
        json={"name": "erp", "kind": "token", "value": {"token": "tok-erp-narrowed-42"}},
    )
    assert made.status_code == 201, made.text
    reader = await make_workflow(
        app,
        owner.org_id,
        document=flow("Reader", nodes=[{"id": "x", "type": "core.log", "params": {"message": "{{ secrets.erp }}"}}]),
    )
    queued = await start(client, owner.headers, reader)
    narrowed = await client.patch(
        f"{API}/credentials/{made.json()['id']}",
        headers=owner.headers,
        json={"access": {"roles": ["owner"], "tags": ["finance"]}},
    )
    assert narrowed.status_code == 200, narrowed.text
    agent = FakeAgent(app, owner.org_id).connect()
    for _ in range(100):
        if (await get(client, owner.headers, queued))["state"] == "failed":
            break
        await asyncio.sleep(0.05)
    row = await get(client, owner.headers, queued)
    assert row["state"] == "failed"
    assert row["error"]["kind"] == "credentials"
    assert "outside its workflow scope" in row["error"]["message"]
    assert agent.assigned == []
    assert "tok-erp-narrowed-42" not in repr(agent.sent)


async def test_sub_flows_travel_with_the_job_and_a_missing_one_fails_it(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    call = {"id": "call", "type": "flow.call", "params": {"flow": "child", "inputs": {}}}
    await make_workflow(app, owner.org_id, name="grandchild", document=flow("grandchild"))
    await make_workflow(
        app,
        owner.org_id,
        name="child",
        document=flow(
            "child", nodes=[{"id": "deeper", "type": "flow.call", "params": {"flow": "grandchild", "inputs": {}}}]
        ),
    )
    parent = await make_workflow(app, owner.org_id, document=flow("Parent", nodes=[call]))
    orphan = await make_workflow(
        app, owner.org_id, document=flow("Orphan", nodes=[{**call, "params": {"flow": "nobody", "inputs": {}}}])
    )
    failing = await start(client, owner.headers, orphan)
    running = await start(client, owner.headers, parent)
    agent = FakeAgent(app, owner.org_id).connect()
    await eventually(lambda: agent.assigned == [running])
    assert sorted(agent.sent[0].subflows) == ["child", "grandchild"]
    assert agent.sent[0].subflows["child"]["nodes"][0]["params"]["flow"] == "grandchild"
    row = await get(client, owner.headers, failing)
    assert row["state"] == "failed"
    assert row["error"]["kind"] == "subflow"
    assert "nobody" in row["error"]["message"]


async def test_a_flow_timeout_becomes_a_deadline_the_orchestrator_enforces(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    document = flow("Timed")
    document["settings"]["timeout_s"] = 60
    workflow = await make_workflow(app, owner.org_id, document=document)
    execution = await start(client, owner.headers, workflow)
    agent = FakeAgent(app, owner.org_id).connect()
    await eventually(lambda: agent.assigned == [execution])
    row = await get(client, owner.headers, execution)
    from datetime import datetime

    deadline = datetime.fromisoformat(row["deadline_at"])
    assigned = datetime.fromisoformat(row["assigned_at"])
    assert 89 <= (deadline - assigned).total_seconds() <= 91  # timeout_s + the 30 s margin


async def test_a_deep_queue_the_free_agent_cannot_take_does_not_hide_what_it_can(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    """A pass reads the queue in pages sized to the free slots; executions no free agent can take
    are skipped page after page, and a concurrency limit counts on every page."""
    owner = await tenant()
    web = await make_workflow(app, owner.org_id, document=flow("Web", requires=["browser"]))
    limited = await make_workflow(app, owner.org_id, document=flow("Limited", max_concurrent=1))
    blocked = [await start(client, owner.headers, web) for _ in range(40)]  # more than two pages of 16
    first_limited, second_limited = [await start(client, owner.headers, limited) for _ in range(2)]
    plain = FakeAgent(app, owner.org_id, "plain", max_jobs=3).connect()
    await eventually(lambda: plain.assigned == [first_limited])
    await asyncio.sleep(0.3)
    assert plain.assigned == [first_limited]  # the second waits for the limit, not for a slot
    browser = FakeAgent(app, owner.org_id, "browser", capabilities=("browser",), max_jobs=50).connect()
    await eventually(lambda: len(browser.assigned) == 40)
    assert browser.assigned == blocked  # FIFO across pages
    assert (await get(client, owner.headers, second_limited))["state"] == "queued"


async def test_pages_after_assignments_keep_fifo(app: FastAPI, client: Any, tenant: TenantFactory) -> None:
    """Executions assigned from one page leave the queue: the next page starts right after the
    ones still waiting, so nothing is skipped."""
    owner = await tenant()
    web = await make_workflow(app, owner.org_id, document=flow("Web", requires=["browser"]))
    plain = await make_workflow(app, owner.org_id, document=flow("Plain"))
    early = [await start(client, owner.headers, plain) for _ in range(5)]
    for _ in range(15):
        await start(client, owner.headers, web)
    late = [await start(client, owner.headers, plain) for _ in range(10)]
    agent = FakeAgent(app, owner.org_id, "plain", max_jobs=10).connect()  # pages of 20: 5 plain, then 15 web
    await eventually(lambda: len(agent.assigned) == 10)
    assert agent.assigned == early + late[:5]


async def test_jobs_go_out_when_their_batch_commits_not_a_loop_turn_later(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    free = FakeAgent(app, owner.org_id, "free").connect()
    busy = FakeAgent(app, owner.org_id, "busy").connect()
    hold = asyncio.Lock()
    await hold.acquire()

    async def waits_its_turn(message: Any) -> None:  # a socket that is still sending something else
        async with hold:
            busy.sent.append(message)

    busy.link.send = waits_its_turn
    dispatcher = app.state.dispatcher
    dispatcher.committed(([(free.link, "job-1"), (busy.link, "job-2"), (free.link, "job-3")], False))
    assert free.sent == ["job-1"]  # written before `committed` returned; the next one waits behind job-2
    hold.release()
    await eventually(lambda: free.sent == ["job-1", "job-3"] and busy.sent == ["job-2"])
