"""A `TriggerSource` run by the runner through the contract of `orchestrator.triggers.sources`:
each emitted event starts one execution (a repeat returns False), the cursor outlives the task,
the status shows in the trigger's state, and a `SourceError` is recorded and retried."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from orchestrator.triggers import register_source, unregister_source
from orchestrator.triggers.sources import SourceContext, SourceError, SourceEvent
from tests.orchestrator.conftest import TenantFactory
from tests.orchestrator.triggers._helpers import create, eventually, executions_of, show, workflow

EMITTED: list[bool] = []


class CounterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: int = 3
    fail_first: bool = False


class CounterSource:
    """Emits `events` numbered events after the cursor's last, twice each (a source re-reading
    what it already handed over), then idles."""

    kind: ClassVar[str] = "counter"
    config_model: ClassVar[type[BaseModel]] = CounterConfig
    runs: ClassVar[int] = 0

    async def run(self, config: BaseModel, ctx: SourceContext) -> None:
        assert isinstance(config, CounterConfig)
        CounterSource.runs += 1
        if config.fail_first and CounterSource.runs == 1:
            raise SourceError("the counter server at 127.0.0.1:1 refused the connection")
        state = await ctx.cursor.load()
        last = int(state.get("last", 0))
        for n in range(last + 1, config.events + 1):
            event = SourceEvent(key=f"n{n}", payload={"n": n})
            EMITTED.append(await ctx.emit(event))
            EMITTED.append(await ctx.emit(event))
            await ctx.cursor.save({"last": n})
        ctx.status("idle: counted to the end")
        await ctx.stop.wait()


@pytest.fixture(autouse=True)
def counter_kind() -> Iterator[None]:
    register_source("counter", CounterSource)  # type: ignore[arg-type]
    EMITTED.clear()
    CounterSource.runs = 0
    yield
    unregister_source("counter")


async def test_each_emitted_event_starts_one_execution_and_the_cursor_is_kept(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(
        client, owner.headers, workflow_id, "counter", config={"events": 3}, inputs={"customer": "n{{ event.n }}"}
    )
    executions = await eventually(lambda: _at_least(app, owner, workflow_id, 3))
    assert sorted(e.inputs["customer"] for e in executions) == ["n1", "n2", "n3"]
    assert {e.trigger_type for e in executions} == {"counter"}
    # The third execution is visible once its emit committed; the source's repeat of it follows.
    await eventually(lambda: _emitted(6))
    assert EMITTED == [True, False, True, False, True, False]
    state = await eventually(lambda: _status(client, owner, trigger["id"]))
    assert state["status"] == "idle: counted to the end"
    shown = await show(client, owner.headers, trigger["id"])
    assert shown["state"]["fire_count"] == 3

    # Restarted (a config change), it goes on from its cursor: nothing is emitted twice.
    EMITTED.clear()
    patched = await client.patch(
        f"/api/v1/triggers/{trigger['id']}", json={"config": {"events": 4}}, headers=owner.headers
    )
    assert patched.status_code == 200
    await eventually(lambda: _at_least(app, owner, workflow_id, 4))
    await asyncio.sleep(0.2)
    assert EMITTED == [True, False]
    assert len(await executions_of(app, owner.org_id, workflow_id)) == 4


async def test_a_source_error_is_recorded_and_retried(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await workflow(app, owner.org_id)
    trigger = await create(client, owner.headers, workflow_id, "counter", config={"events": 1, "fail_first": True})
    await eventually(lambda: _at_least(app, owner, workflow_id, 1))  # after a 1 s backoff
    shown = await show(client, owner.headers, trigger["id"])
    assert "refused the connection" in shown["state"]["last_error"]
    assert shown["state"]["last_error_at"] is not None
    assert CounterSource.runs == 2


async def _emitted(n: int) -> bool:
    return len(EMITTED) >= n


async def _at_least(app: FastAPI, owner: Any, workflow_id: Any, n: int) -> list[Any] | None:
    found = await executions_of(app, owner.org_id, workflow_id)
    return found if len(found) >= n else None


async def _status(client: httpx.AsyncClient, owner: Any, trigger_id: str) -> dict[str, Any] | None:
    state: dict[str, Any] = (await show(client, owner.headers, trigger_id))["state"]
    return state if state["status"] else None
