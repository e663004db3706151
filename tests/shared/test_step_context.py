"""What a running step gets from its context: secrets by name, execution-wide resources closed
whatever the end, journal notes, and artifacts saved through one call."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from shared.engine import Engine, MemoryJournal
from shared.errors import StepError
from shared.flow import load_flow
from shared.steps import ExecutionResources, StepEnvironment, StepRegistry, context, step
from shared.steps.builtin import BUILTIN_STEPS

SECRET = "hunter2-Very-Secret"


class NameParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "main"


CLOSED: list[str] = []


@step("res.open", params=NameParams)
async def res_open(params: NameParams) -> str:
    """Open a resource that lives as long as the execution."""

    async def close(value: str) -> None:
        await asyncio.sleep(0)
        CLOSED.append(value)

    context().resources.put(f"res:{params.name}", f"session-{params.name}", close)
    return params.name


@step("res.use", params=NameParams)
def res_use(params: NameParams) -> str:
    """Use it from a worker thread (a sync step)."""
    found = context().resources.get(f"res:{params.name}")
    if found is None:
        raise StepError(f"no session {params.name}", retryable=False)
    return str(found)


@step("res.fail")
def res_fail(_params: Any) -> None:
    """Fail for good."""
    raise StepError("broken", retryable=False)


@step("res.hang")
async def res_hang(_params: Any) -> None:
    """Wait until cancelled."""
    await asyncio.sleep(60)


@step("res.secret", params=NameParams)
def res_secret(params: NameParams) -> str:
    """Log and return something derived from a secret."""
    ctx = context()
    value = ctx.secret(params.name)
    ctx.log(f"logged in with {value}")
    ctx.note("healed", {"old": "#a", "new": "#b", "used": value})
    saved = ctx.save_artifact(f"report-{value}.txt", f"the password was {value}")
    return f"{len(value)} chars, artifact {saved['name']}"


REGISTRY = StepRegistry([*BUILTIN_STEPS, res_open, res_use, res_fail, res_hang, res_secret])


def flow_of(*nodes: dict[str, Any]) -> Any:
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    document = {"schema": "rpa.flow/1", "name": "ctx", "nodes": list(nodes), "edges": edges}
    return load_flow(document, registry=REGISTRY)


@pytest.fixture(autouse=True)
def _clear() -> None:
    CLOSED.clear()


async def test_a_resource_opened_by_one_step_is_used_by_the_next_and_closed_at_the_end(tmp_path: Path) -> None:
    flow = flow_of(
        {"id": "a", "type": "res.open", "params": {"name": "x"}},
        {"id": "b", "type": "res.use", "params": {"name": "x"}},
    )
    result = await Engine(REGISTRY, artifacts_dir=tmp_path).run(flow)
    assert result.status == "succeeded", result.error
    assert CLOSED == ["session-x"]


async def test_resources_are_closed_newest_first_when_the_execution_fails(tmp_path: Path) -> None:
    flow = flow_of(
        {"id": "a", "type": "res.open", "params": {"name": "first"}},
        {"id": "b", "type": "res.open", "params": {"name": "second"}},
        {"id": "c", "type": "res.fail"},
    )
    result = await Engine(REGISTRY, artifacts_dir=tmp_path).run(flow)
    assert result.status == "failed"
    assert CLOSED == ["session-second", "session-first"]


async def test_resources_are_closed_when_the_execution_is_cancelled_or_its_host_stops(tmp_path: Path) -> None:
    flow = flow_of({"id": "a", "type": "res.open", "params": {"name": "c"}}, {"id": "b", "type": "res.hang"})
    engine = Engine(REGISTRY, artifacts_dir=tmp_path)
    journal = MemoryJournal("cancel-me")
    task = asyncio.create_task(engine.run(flow, journal=journal))
    while not any(e.type == "node.started" and e.path == "b" for e in journal.read()):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    assert engine.cancel("cancel-me")
    assert (await task).status == "cancelled"
    assert CLOSED == ["session-c"]

    # A host that stops cancels the task itself: the journal stays open, the session does not.
    task = asyncio.create_task(Engine(REGISTRY, artifacts_dir=tmp_path).run(flow, journal=MemoryJournal("host")))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert CLOSED == ["session-c", "session-c"]


async def test_a_closer_that_fails_does_not_keep_the_others_open() -> None:
    resources = ExecutionResources()
    closed: list[str] = []
    resources.put("a", "a", closed.append)
    resources.put("b", "b", lambda _v: 1 / 0)
    resources.put("c", "c", closed.append)
    with pytest.raises(ValueError, match="already open"):
        resources.put("c", "again")
    await resources.aclose()
    assert closed == ["c", "a"]
    assert resources.keys() == []


async def test_a_secret_by_name_is_masked_in_logs_notes_artifact_names_and_outputs(tmp_path: Path) -> None:
    lines: list[str] = []
    engine = Engine(
        REGISTRY,
        artifacts_dir=tmp_path,
        secrets={"erp": SECRET}.get,
        on_log=lambda _e, _p, _l, message: lines.append(message),
    )
    journal = MemoryJournal("secret")
    result = await engine.run(flow_of({"id": "s", "type": "res.secret", "params": {"name": "erp"}}), journal=journal)
    assert result.status == "succeeded", result.error
    events = [e.to_dict() for e in journal.read()]
    notes = [e for e in events if e["type"] == "node.note"]
    assert notes
    assert notes[0]["data"]["kind"] == "healed"
    assert notes[0]["data"]["new"] == "#b"
    exposed = json.dumps(events) + json.dumps(lines) + json.dumps(result.to_dict())
    assert SECRET not in exposed
    assert lines == ["logged in with ***"]
    files = [p for p in (tmp_path / "secret").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert SECRET not in files[0].name
    # The content is the step's business: it is kept as written.
    assert files[0].read_text(encoding="utf-8") == f"the password was {SECRET}"


async def test_an_unknown_secret_is_a_credential_error_that_is_not_retried() -> None:
    env = StepEnvironment(secrets={"other": "x"})
    with pytest.raises(StepError) as caught:
        await env.run(res_secret, {"name": "erp"})
    assert caught.value.kind == "credential"
    assert not caught.value.retryable
    assert "'erp'" in caught.value.message


async def test_step_environment_offers_secrets_notes_resources_and_artifacts(tmp_path: Path) -> None:
    env = StepEnvironment(artifacts_dir=tmp_path, secrets={"erp": "pw"})
    assert await env.run(res_secret, {"name": "erp"}) == "2 chars, artifact report-pw.txt"
    assert env.notes == [("healed", {"old": "#a", "new": "#b", "used": "pw"})]
    assert await env.run(res_open, {"name": "k"}) == "k"
    assert await env.run(res_use, {"name": "k"}) == "session-k"
    await env.aclose()
    assert CLOSED == ["session-k"]


def test_save_artifact_copies_files_and_never_overwrites(tmp_path: Path) -> None:
    from shared.steps._api import StepContext

    ctx = StepContext(execution_id="e1", path="loop[2]/shot", step_type="t", attempt=1, artifacts_root=tmp_path)
    source = tmp_path / "big.bin"
    source.write_bytes(b"\0" * 100_000)
    first = ctx.save_artifact("../../etc/page.png", source)
    second = ctx.save_artifact("page.png", b"png")
    assert first["name"] == "page.png"
    assert first["size"] == 100_000
    assert first["content_type"] == "image/png"
    assert second["name"] == "page-2.png"
    assert (tmp_path / "e1" / first["artifact"]).read_bytes() == source.read_bytes()
    assert not (tmp_path / "etc").exists()


@step("res.found_secret")
def res_found_secret(_params: Any) -> str:
    """A step that obtains a secret on its own and hands it on."""
    ctx = context()
    ctx.add_secret("found-Secret-9931")
    ctx.log("using found-Secret-9931")
    return "found-Secret-9931"


async def test_add_secret_masks_a_value_the_step_obtained_itself(tmp_path: Path) -> None:
    lines: list[str] = []
    registry = StepRegistry([*BUILTIN_STEPS, res_found_secret])
    document = {"schema": "rpa.flow/1", "name": "f", "nodes": [{"id": "s", "type": "res.found_secret"}], "edges": []}
    journal = MemoryJournal("found")
    engine = Engine(registry, artifacts_dir=tmp_path, on_log=lambda _e, _p, _l, message: lines.append(message))
    result = await engine.run(load_flow(document, registry=registry), journal=journal)
    assert result.status == "succeeded"
    assert "found-Secret-9931" not in json.dumps([e.to_dict() for e in journal.read()]) + json.dumps(lines)
    assert lines == ["using ***"]
