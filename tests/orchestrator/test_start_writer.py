"""Group commit of starts: concurrent starts share one transaction (one INSERT per table, one
audit-head update), the audit chain stays whole, the dispatcher is woken once per transaction,
and a start that cannot be stored fails alone."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select

from orchestrator.db.group_commit import CommitLoop
from orchestrator.models.audit import AuditEntry
from orchestrator.models.execution_records import ExecutionRecord
from orchestrator.models.executions import Execution, ExecutionTransition
from orchestrator.services import audit
from orchestrator.services.executions import NewExecution, prepare_start
from orchestrator.services.start_writer import StartWriter
from tests.orchestrator._execution_helpers import SYSTEM, make_workflow
from tests.orchestrator.conftest import TenantFactory

API = "/api/v1"


async def _prepared(app: FastAPI, org_id: uuid.UUID, workflow_id: uuid.UUID, count: int) -> list[NewExecution]:
    async with app.state.db.transaction() as session:
        return [
            await prepare_start(
                session, org_id=org_id, actor=SYSTEM, workflow_id=workflow_id, inputs={"customer": f"c{n}"}
            )
            for n in range(count)
        ]


async def test_concurrent_starts_share_one_transaction_and_keep_the_chain(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    news = await _prepared(app, owner.org_id, workflow_id, 6)
    woken: list[int] = []
    writer = StartWriter(app.state.db, on_queued=lambda: woken.append(1), loop=CommitLoop(app.state.db))
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper() + " " + statement.split()[2])

    writer.loop.start()
    try:
        await asyncio.sleep(0)  # the writer's task is waiting before the units arrive
        engine = None
        async with app.state.db.write_transaction() as session:  # makes the writers' engine
            engine = session.bind
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        stored = await asyncio.gather(*(writer.submit(new) for new in news))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        await writer.loop.stop()
    assert [e.id for e in stored] == [new.execution.id for new in news]
    assert (writer.batches, writer.units, writer.fallbacks) == (1, 6, 0)
    assert woken == [1]
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert sorted(inserts) == ["INSERT audit_log", "INSERT execution_transitions", "INSERT executions"]
    assert stored[0].attempt == 1
    assert stored[0].state == "queued"
    async with app.state.db.transaction() as session:
        states = (
            await session.execute(
                select(Execution.state, Execution.attempt, Execution.history_seq).where(
                    Execution.workflow_id == workflow_id
                )
            )
        ).all()
        assert sorted(states) == [("queued", 1, 1)] * 6
        history = await session.scalar(
            select(func.count())
            .select_from(ExecutionTransition)
            .where(ExecutionTransition.execution_id.in_([e.id for e in stored]))
        )
        assert history == 6
        seqs = list(
            await session.scalars(
                select(AuditEntry.seq)
                .where(AuditEntry.org_id == owner.org_id, AuditEntry.action == "execution.start")
                .order_by(AuditEntry.seq)
            )
        )
        assert len(seqs) == 6
        assert seqs == list(range(seqs[0], seqs[0] + 6))
        verification = await audit.verify_chain(session, audit.chain_of(owner.org_id))
        assert verification.ok, verification.problems


async def test_a_start_that_cannot_be_stored_fails_alone(app: FastAPI, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    first, second, third = await _prepared(app, owner.org_id, workflow_id, 3)
    writer = StartWriter(app.state.db, loop=CommitLoop(app.state.db))
    writer.loop.start()
    try:
        await writer.submit(first)
        # The same execution again: its primary key is taken, so its INSERT fails.
        again = first
        outcomes = await asyncio.gather(
            writer.submit(second), writer.submit(again), writer.submit(third), return_exceptions=True
        )
    finally:
        await writer.loop.stop()
    assert [o.id for o in outcomes if isinstance(o, ExecutionRecord)] == [second.execution.id, third.execution.id]
    assert isinstance(outcomes[1], Exception)
    assert writer.fallbacks == 1
    async with app.state.db.transaction() as session:
        ids = set(await session.scalars(select(Execution.id).where(Execution.workflow_id == workflow_id)))
        assert ids == {first.execution.id, second.execution.id, third.execution.id}
        verification = await audit.verify_chain(session, audit.chain_of(owner.org_id))
        assert verification.ok, verification.problems


async def test_concurrent_api_starts_are_all_stored_and_answered(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    writer: StartWriter = app.state.start_writer
    before = writer.units
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/executions",
                headers=owner.headers,
                json={"workflow_id": str(workflow_id), "inputs": {"customer": f"c{n}"}},
            )
            for n in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20
    assert writer.units - before == 20
    ids = {r.json()["id"] for r in responses}
    for response in responses[:3]:
        read = await client.get(f"{API}/executions/{response.json()['id']}", headers=owner.headers)
        assert read.json()["state"] == "queued"  # no agent: it waits
        assert read.json()["inputs"]["customer"].startswith("c")
    listed = await client.get(
        f"{API}/executions", headers=owner.headers, params={"workflow_id": str(workflow_id), "limit": 50}
    )
    assert {item["id"] for item in listed.json()["items"]} == ids


async def test_a_batch_start_stores_all_or_none_and_names_the_bad_item(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = str(await make_workflow(app, owner.org_id))
    good = [{"workflow_id": workflow_id, "inputs": {"customer": f"c{n}"}, "priority": "high"} for n in range(3)]
    made = await client.post(f"{API}/executions/batch", headers=owner.headers, json={"items": good})
    assert made.status_code == 201, made.text
    items = made.json()["items"]
    assert [i["inputs"]["customer"] for i in items] == ["c0", "c1", "c2"]
    assert {i["priority"] for i in items} == {"high"}
    assert {i["state"] for i in items} == {"queued"}

    bad = [*good[:2], {"workflow_id": workflow_id, "inputs": {"count": "many"}}]
    refused = await client.post(f"{API}/executions/batch", headers=owner.headers, json={"items": bad})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_inputs"
    assert error["message"].startswith("items[2]: ")
    assert {d["location"] for d in error["details"]} == {"items[2].inputs.customer", "items[2].inputs.count"}
    missing = await client.post(
        f"{API}/executions/batch", headers=owner.headers, json={"items": [good[0], {"workflow_id": str(uuid.uuid4())}]}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["details"]["item"] == 1
    listed = await client.get(
        f"{API}/executions", headers=owner.headers, params={"workflow_id": workflow_id, "limit": 50}
    )
    assert listed.json()["total"] == 3  # nothing of the refused batches was stored
    too_many = await client.post(f"{API}/executions/batch", headers=owner.headers, json={"items": good * 34})
    assert too_many.status_code == 422


async def test_a_start_gives_its_connection_back_before_waiting_for_the_writer(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    writer: StartWriter = app.state.start_writer
    held: list[int] = []
    submit_many = writer.submit_many  # single starts go through it too

    async def counted(news: list[NewExecution]) -> list[Execution]:
        held.append(app.state.db.engine.pool.checkedout())
        return await submit_many(news)

    writer.submit_many = counted  # type: ignore[method-assign]
    item = {"workflow_id": str(workflow_id), "inputs": {"customer": "c"}}
    for _ in range(3):
        made = await client.post(f"{API}/executions", headers=owner.headers, json=item)
        batch = await client.post(f"{API}/executions/batch", headers=owner.headers, json={"items": [item] * 2})
        assert (made.status_code, batch.status_code) == (201, 201)
    # A background pass (the lease reaper) may hold a connection for a moment; the request's own is
    # never held while it waits, so some wait of each route sees none checked out.
    assert len(held) == 6
    assert min(held[0::2]) == 0  # single starts
    assert min(held[1::2]) == 0  # batches
