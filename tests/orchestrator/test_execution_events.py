"""The stored journal: idempotent appends on (execution, seq), gaps, folding of lifecycle
events into the execution row, and the paged events route."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from orchestrator.errors import Conflict, Invalid
from orchestrator.models.executions import ExecutionEvent, ExecutionTransition
from orchestrator.services.execution_states import IllegalTransition, State, transition
from orchestrator.services.executions import append_events, cancel_execution, get_execution
from tests.orchestrator._execution_helpers import SYSTEM, make_execution, make_workflow

API = "/api/v1"


def event(
    seq: int, kind: str = "node.succeeded", path: str = "", data: dict[str, Any] | None = None, ts: float | None = None
) -> dict[str, Any]:
    default = {"output": {"n": seq, "ratio": seq / 7}, "port": "out"}
    return {
        "seq": seq,
        "type": kind,
        "path": path or f"step_{seq}",
        "data": default if data is None else data,
        "ts": 1_700_000_000.123456 + seq if ts is None else ts,
    }


def started(seq: int = 1) -> dict[str, Any]:
    return event(seq, "execution.started", "", {"execution_id": "x", "flow": "Invoices", "inputs": {}, "variables": {}})


def finished(
    seq: int, status: str = "succeeded", outputs: dict[str, Any] | None = None, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    return event(seq, "execution.finished", "", {"status": status, "outputs": outputs or {}, "error": error})


async def append(app: FastAPI, org_id: uuid.UUID, execution_id: uuid.UUID, events: list[dict[str, Any]]) -> int:
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, org_id, execution_id)
        return await append_events(session, execution, events)


async def stored(app: FastAPI, execution_id: uuid.UUID) -> dict[int, tuple[Any, ...]]:
    async with app.state.db.transaction() as session:
        rows = await session.execute(
            select(
                ExecutionEvent.seq, ExecutionEvent.type, ExecutionEvent.path, ExecutionEvent.data, ExecutionEvent.ts
            ).where(ExecutionEvent.execution_id == execution_id)
        )
        return {row[0]: tuple(row[1:]) for row in rows}


@pytest.fixture
async def running(app: FastAPI, tenant) -> tuple[Any, uuid.UUID]:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    return owner, await make_execution(app, owner.org_id, workflow_id, state=State.RUNNING)


async def test_new_events_are_stored_as_sent(app: FastAPI, running) -> None:
    owner, execution_id = running
    batch = [event(1), event(2, "log", "", {"level": "info", "message": "héllo"}), event(3, data={"deep": [1, 2.5]})]
    assert await append(app, owner.org_id, execution_id, batch) == 3
    rows = await stored(app, execution_id)
    assert rows == {e["seq"]: (e["type"], e["path"], e["data"], e["ts"]) for e in batch}
    assert (await get_execution_row(app, owner.org_id, execution_id)).last_seq == 3


async def get_execution_row(app: FastAPI, org_id: uuid.UUID, execution_id: uuid.UUID) -> Any:
    async with app.state.db.transaction() as session:
        return await get_execution(session, org_id, execution_id)


async def test_an_identical_duplicate_is_ignored(app: FastAPI, running) -> None:
    owner, execution_id = running
    batch = [event(1), event(2)]
    assert await append(app, owner.org_id, execution_id, batch) == 2
    assert await append(app, owner.org_id, execution_id, batch) == 0
    assert await append(app, owner.org_id, execution_id, [event(2), event(3)]) == 1
    # The same event twice in one batch counts once.
    assert await append(app, owner.org_id, execution_id, [event(4), event(4)]) == 1
    assert sorted(await stored(app, execution_id)) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "change",
    [
        {"type": "node.failed"},
        {"path": "other"},
        {"data": {"output": 1}},
        {"ts": 1.0},
    ],
)
async def test_the_same_seq_with_other_content_is_a_conflict_and_nothing_of_the_batch_is_kept(
    app: FastAPI, running, change: dict[str, Any]
) -> None:
    owner, execution_id = running
    await append(app, owner.org_id, execution_id, [event(1), event(2)])
    with pytest.raises(Conflict) as caught:
        await append(app, owner.org_id, execution_id, [event(3), {**event(2), **change}, event(4)])
    assert caught.value.code == "seq_conflict"
    assert caught.value.status == 409
    assert caught.value.details == {"seqs": [2]}
    assert "seq 2" in caught.value.message
    assert sorted(await stored(app, execution_id)) == [1, 2]
    assert (await get_execution_row(app, owner.org_id, execution_id)).last_seq == 2


async def test_a_seq_repeated_in_one_batch_with_other_content_is_a_conflict(app: FastAPI, running) -> None:
    owner, execution_id = running
    with pytest.raises(Conflict, match="twice in the batch") as caught:
        await append(app, owner.org_id, execution_id, [event(1), {**event(1), "path": "elsewhere"}])
    assert caught.value.code == "seq_conflict"
    assert await stored(app, execution_id) == {}


async def test_gaps_are_stored_and_last_seq_is_the_highest_contiguous_one(app: FastAPI, running) -> None:
    owner, execution_id = running
    assert await append(app, owner.org_id, execution_id, [event(1), event(2), event(5), event(7)]) == 4
    assert (await get_execution_row(app, owner.org_id, execution_id)).last_seq == 2
    assert await append(app, owner.org_id, execution_id, [event(4), event(3)]) == 2
    assert (await get_execution_row(app, owner.org_id, execution_id)).last_seq == 5
    assert await append(app, owner.org_id, execution_id, [event(6)]) == 1
    assert (await get_execution_row(app, owner.org_id, execution_id)).last_seq == 7


async def test_a_large_batch_is_stored_in_chunks(app: FastAPI, running) -> None:
    owner, execution_id = running
    batch = [event(seq) for seq in range(1, 1301)]
    assert await append(app, owner.org_id, execution_id, batch) == 1300
    assert await append(app, owner.org_id, execution_id, batch[::-1]) == 0
    assert (await get_execution_row(app, owner.org_id, execution_id)).last_seq == 1300


async def test_malformed_events_are_refused_naming_each_field(app: FastAPI, running) -> None:
    owner, execution_id = running
    bad = [
        {"seq": 0, "type": "node.succeeded", "path": "", "data": {}, "ts": 1.0},
        {"seq": 2, "type": "node.exploded", "path": "", "data": {}, "ts": 1.0},
        {"seq": 3, "type": "log", "path": 5, "data": [], "ts": "yesterday"},
        {"seq": 4, "type": "execution.finished", "path": "", "data": {"status": "done"}, "ts": 1.0},
        {"seq": 5, "type": "log", "path": "", "data": {"x": float("nan")}, "ts": 1.0},
    ]
    with pytest.raises(Invalid) as caught:
        await append(app, owner.org_id, execution_id, [event(1), *bad])
    problems = caught.value.details
    assert any(p.startswith("events[1].seq:") for p in problems)
    assert any(p.startswith("events[2].type: unknown event type 'node.exploded'") for p in problems)
    assert {"events[3].path", "events[3].data", "events[3].ts"} <= {p.split(":")[0] for p in problems}
    assert any(p.startswith("events[4].data.status:") for p in problems)
    assert any(p.startswith("events[5].data: not JSON") for p in problems)
    assert await stored(app, execution_id) == {}


async def test_finished_is_folded_through_the_state_rules(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id), state=State.ASSIGNED)
    await append(app, owner.org_id, execution_id, [started(1), event(2)])
    assert (await get_execution_row(app, owner.org_id, execution_id)).state == "running"
    await append(app, owner.org_id, execution_id, [finished(3, outputs={"total": 42})])
    row = await get_execution_row(app, owner.org_id, execution_id)
    assert (row.state, row.outputs, row.error, row.last_seq) == ("succeeded", {"total": 42}, None, 3)
    assert row.finished_at is not None
    async with app.state.db.transaction() as session:
        moves = list(
            await session.execute(
                select(ExecutionTransition.to_state, ExecutionTransition.reason)
                .where(ExecutionTransition.execution_id == execution_id)
                .order_by(ExecutionTransition.seq)
            )
        )
    assert moves[-2:] == [
        ("running", "journal: execution.started (seq 1)"),
        ("succeeded", "journal: execution.finished (seq 3)"),
    ]
    # A repeated upload of the whole journal changes nothing.
    journal = [started(1), event(2), finished(3, outputs={"total": 42})]
    assert await append(app, owner.org_id, execution_id, journal) == 0
    assert (await get_execution_row(app, owner.org_id, execution_id)).state == "succeeded"


async def test_finished_waits_for_the_gap_below_it(app: FastAPI, running) -> None:
    owner, execution_id = running
    error = {"kind": "business", "message": "no such invoice"}
    await append(app, owner.org_id, execution_id, [event(1), finished(3, "failed", error=error)])
    row = await get_execution_row(app, owner.org_id, execution_id)
    assert (row.state, row.last_seq, row.error) == ("running", 1, None)
    await append(app, owner.org_id, execution_id, [event(2)])
    row = await get_execution_row(app, owner.org_id, execution_id)
    assert (row.state, row.last_seq, row.error, row.outputs) == ("failed", 3, error, {})


async def test_finished_while_paused_resumes_first(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id), state=State.PAUSED)
    await append(app, owner.org_id, execution_id, [started(1), finished(2, "timed_out")])
    assert (await get_execution_row(app, owner.org_id, execution_id)).state == "timed_out"


async def test_a_finished_execution_keeps_its_state_but_stores_late_events(app: FastAPI, running) -> None:
    owner, execution_id = running
    async with app.state.db.transaction() as session:
        execution = await get_execution(session, owner.org_id, execution_id)
        await cancel_execution(session, execution, actor=SYSTEM)
        assert execution.state == "running", "a running execution waits for its agent to confirm a cancel"
        await transition(session, execution, State.CANCELLED, reason="the agent confirmed", actor=SYSTEM)
    await append(app, owner.org_id, execution_id, [started(1), finished(2, "succeeded", outputs={"a": 1})])
    row = await get_execution_row(app, owner.org_id, execution_id)
    assert (row.state, row.outputs, row.last_seq) == ("cancelled", None, 2)


async def test_a_queued_execution_cannot_be_finished_by_a_journal(app: FastAPI, tenant) -> None:
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id))
    with pytest.raises(IllegalTransition, match="'queued'"):
        await append(app, owner.org_id, execution_id, [started(1), finished(2)])
    assert await stored(app, execution_id) == {}


async def test_events_route_pages_by_seq(app: FastAPI, client: httpx.AsyncClient, running, tenant) -> None:
    owner, execution_id = running
    await append(app, owner.org_id, execution_id, [event(s) for s in (1, 2, 3, 4, 5, 7)])
    url = f"{API}/executions/{execution_id}/events"
    first = (await client.get(url, params={"limit": 4}, headers=owner.headers)).json()
    assert [e["seq"] for e in first["items"]] == [1, 2, 3, 4]
    assert (first["next_after_seq"], first["last_seq"], first["after_seq"]) == (4, 5, 0)
    assert first["items"][0] == {**event(1)}
    second = (await client.get(url, params={"limit": 4, "after_seq": 4}, headers=owner.headers)).json()
    assert [e["seq"] for e in second["items"]] == [5, 7]
    assert second["next_after_seq"] is None
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    assert (await client.get(url, headers=viewer.headers)).status_code == 200
    stranger = await tenant()
    hidden = await client.get(url, headers=stranger.headers)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    async with app.state.db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(ExecutionEvent))
    assert count == 6


async def test_batches_of_one_transaction_see_each_other_without_a_flush(app: FastAPI, tenant) -> None:
    """As the agent writer runs them (no autoflush): a batch that continues the journal is only
    deferred, yet a later batch of the same transaction that needs to compare or close a gap sees it."""
    owner = await tenant()
    execution_id = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id), state=State.RUNNING)
    async with app.state.db.transaction() as session:
        with session.no_autoflush:
            execution = await get_execution(session, owner.org_id, execution_id, for_update=True)
            assert await append_events(session, execution, [started(1), event(2)]) == 2  # deferred
            assert await append_events(session, execution, [event(4)]) == 1  # a gap: compared, stored
            assert await append_events(session, execution, [event(2), event(3)]) == 1  # 2 is a repeat
            with pytest.raises(Conflict):
                await append_events(session, execution, [event(2, path="changed")])
            assert execution.last_seq == 4
    async with app.state.db.transaction() as session:
        seqs = list(
            await session.scalars(
                select(ExecutionEvent.seq)
                .where(ExecutionEvent.execution_id == execution_id)
                .order_by(ExecutionEvent.seq)
            )
        )
    assert seqs == [1, 2, 3, 4]
