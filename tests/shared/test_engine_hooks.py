"""The engine's debug hooks: called around every node instance, masked, able to pause; disabled
nodes pass through; a run can start from a node with the earlier ones replayed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.engine import Engine, MemoryJournal, NodeStop, PauseGate, fold, rerun_events
from shared.flow import Flow
from shared.steps import StepRegistry


def _flow(nodes: list[dict[str, Any]], edges: list[tuple[str, str]], **extra: Any) -> Flow:
    return Flow.model_validate(
        {
            "schema": "rpa.flow/1",
            "name": "hooked",
            "nodes": nodes,
            "edges": [{"from": s, "to": t} for s, t in edges],
            **extra,
        }
    )


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any, Any]] = []

    async def before_node(self, stop: NodeStop) -> None:
        self.seen.append(("before", stop.path, stop.params, None))

    async def after_node(self, stop: NodeStop) -> None:
        status = stop.result.status if stop.result else None
        self.seen.append(("after", stop.path, status, stop.output))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    secrets = {"api": "s3cr3t-value"}
    return Engine(StepRegistry.default(), secrets=secrets.get, artifacts_dir=tmp_path_factory.mktemp("a"))


async def test_hooks_see_every_instance_with_masked_params_and_failures(engine: Engine) -> None:
    flow = _flow(
        [
            {"id": "key", "type": "core.noop", "params": {"value": "{{ secrets.api }}"}},
            {
                "id": "each",
                "type": "control.foreach",
                "params": {"items": [1, 2]},
                "body": {"nodes": [{"id": "inner", "type": "core.noop", "params": {"value": "{{ item }}"}}]},
            },
            {"id": "boom", "type": "core.fail", "params": {"message": "bad data"}},
        ],
        [("key", "each"), ("each", "boom")],
    )
    recorder = Recorder()
    result = await engine.run(flow, hooks=recorder)
    assert result.status == "failed"
    assert "s3cr3t-value" not in repr(recorder.seen)
    assert [(phase, path) for phase, path, _, _ in recorder.seen] == [
        ("before", "key"),
        ("after", "key"),
        ("before", "each"),
        ("before", "each[0]/inner"),
        ("after", "each[0]/inner"),
        ("before", "each[1]/inner"),
        ("after", "each[1]/inner"),
        ("after", "each"),
        ("before", "boom"),
        ("after", "boom"),
    ]
    assert recorder.seen[3][2] == {"value": 1}
    assert recorder.seen[-1][2] == "failed"


async def test_a_pause_gate_holds_the_run_until_resumed(engine: Engine) -> None:
    flow = _flow([{"id": "a", "type": "core.noop"}, {"id": "b", "type": "core.noop"}], [("a", "b")])
    gate = PauseGate()
    gate.pause()
    journal = MemoryJournal("paused")
    task = asyncio.create_task(engine.run(flow, journal=journal, hooks=gate))
    for _ in range(50):
        await asyncio.sleep(0)
    assert gate.waiting is not None
    assert gate.waiting.node_id == "a"
    assert [e.type for e in journal.read()] == ["execution.started"]
    gate.resume()
    assert (await task).status == "succeeded"


async def test_a_disabled_node_passes_through_and_replays_on_resume(engine: Engine) -> None:
    flow = _flow(
        [
            {"id": "off", "type": "core.fail", "disabled": True, "params": {"message": "never"}},
            {"id": "after", "type": "core.noop", "params": {"value": "{{ steps.off.status }}"}},
        ],
        [("off", "after")],
        outputs={"seen": "{{ steps.after.output }}"},
    )
    journal = MemoryJournal("disabled")
    result = await engine.run(flow, journal=journal)
    assert (result.status, result.outputs) == ("succeeded", {"seen": "skipped"})
    skipped = [e.data for e in journal.read() if e.type == "node.skipped"]
    assert skipped == [{"reason": "disabled", "port": "out"}]
    assert fold(journal.read()).results["off"].port == "out"


async def test_rerun_events_keep_only_what_is_upstream(engine: Engine) -> None:
    flow = _flow(
        [
            {"id": "a", "type": "core.noop", "params": {"value": 1}},
            {"id": "side", "type": "core.noop", "params": {"value": 2}},
            {
                "id": "wrap",
                "type": "control.try",
                "body": {"nodes": [{"id": "deep", "type": "core.noop", "params": {"value": "{{ steps.a.output }}"}}]},
            },
        ],
        [("a", "wrap")],
    )
    journal = MemoryJournal("first")
    await engine.run(flow, journal=journal)
    events = rerun_events(journal.read(), flow, "deep", execution_id="second")
    assert events[0][0] == "execution.started"
    assert events[0][2]["execution_id"] == "second"
    assert {path for _, path, _ in events[1:]} == {"a"}
    again = MemoryJournal("second")
    again.append_many(events)
    recorder = Recorder()
    result = await engine.run(flow, journal=again, hooks=recorder)
    assert result.status == "succeeded"
    assert {path for _, path, _, _ in recorder.seen} == {"side", "wrap", "wrap/deep"}
    with pytest.raises(KeyError):
        rerun_events(journal.read(), flow, "ghost")
