"""The engine's per-node shortcuts keep what a run does and journals: params without an
expression are validated once per node of a loaded flow (by `load_flow`, or at the node's first
run) for every execution, params with one on every instance; async steps share one cancel event
per execution; outputs are still masked when the execution knows a secret."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.engine import Engine, MemoryJournal
from shared.flow import Flow, load_flow
from shared.steps import StepRegistry, context, step
from shared.steps.builtin import BUILTIN_STEPS
from tests.shared.conftest import flow_document


class SeenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(None, description="Returned as the output.")
    even: bool = Field(False, description="Reject an odd number value.")

    @field_validator("value")
    @classmethod
    def _count(cls, value: Any) -> Any:
        SEEN["validations"] += 1
        return value


SEEN: dict[str, Any] = {}


async def seen(params: SeenParams) -> Any:
    """Record the params object each instance received."""
    SEEN.setdefault("params", []).append((context().path, params))
    if params.even and isinstance(params.value, int) and params.value % 2:
        raise ValueError("odd")
    return params.value


async def wait_cancel(params: SeenParams) -> bool:
    """Wait to be cancelled; report whether the context said so."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        SEEN["cancelled_seen"] = context().is_cancelled()
        raise
    return False


async def echo_secret(params: SeenParams) -> dict[str, Any]:
    """Put a credential's value into the output, nested."""
    value = context().secret("api")
    return {"headers": {"authorization": f"Bearer {value}"}, "json": {"items": [value]}}


STEPS = (
    step("hot.seen", params=SeenParams)(seen),
    step("hot.wait_cancel", params=SeenParams)(wait_cancel),
    step("hot.echo_secret", params=SeenParams)(echo_secret),
)


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SEEN.clear()
    SEEN["validations"] = 0


@pytest.fixture
def hot_registry() -> StepRegistry:
    return StepRegistry([*BUILTIN_STEPS, *STEPS])


async def run_doc(
    registry: StepRegistry, tmp_path: Any, nodes: list[dict[str, Any]], edges: Any = (), **engine: Any
) -> tuple[Any, list[Any]]:
    flow = load_flow(flow_document(nodes, edges), registry=registry)
    SEEN["validations"] = 0  # loading checked the constant params once already
    journal = MemoryJournal("hot")
    result = await asyncio.wait_for(
        Engine(registry, artifacts_dir=tmp_path / "artifacts", **engine).run(flow, journal=journal), 5
    )
    return result, journal.read()


def received(path_prefix: str = "") -> list[Any]:
    return [params for path, params in SEEN.get("params", []) if path.startswith(path_prefix)]


async def test_a_node_without_expressions_runs_every_iteration_with_the_model_load_flow_validated(
    hot_registry, tmp_path
):
    loop = {
        "id": "loop",
        "type": "control.foreach",
        "params": {"items": [1, 2, 3, 4]},
        "body": {"nodes": [{"id": "s", "type": "hot.seen", "params": {"value": "same"}}], "edges": []},
    }

    result, events = await run_doc(hot_registry, tmp_path, [loop])

    assert result.status == "succeeded"
    models = received()
    assert len(models) == 4
    assert all(model is models[0] for model in models)
    assert SEEN["validations"] == 0  # load_flow's check built the model the run uses
    outputs = [e.data["output"] for e in events if e.type == "node.succeeded" and e.path.endswith("/s")]
    assert outputs == ["same"] * 4


async def test_every_execution_of_a_loaded_flow_gets_the_model_its_check_built(hot_registry, tmp_path):
    flow = load_flow(flow_document([{"id": "s", "type": "hot.seen", "params": {"value": "v"}}]), registry=hot_registry)
    assert SEEN["validations"] == 1
    engine = Engine(hot_registry, artifacts_dir=tmp_path / "artifacts")

    for execution in ("one", "two"):
        result = await engine.run(flow, journal=MemoryJournal(execution))
        assert result.status == "succeeded"

    first, second = received()
    assert first is second
    assert first.value == "v"
    assert SEEN["validations"] == 1


async def test_a_flow_built_without_load_flow_validates_a_node_once_at_its_first_run(hot_registry, tmp_path):
    flow = Flow.model_validate(flow_document([{"id": "s", "type": "hot.seen", "params": {"value": "v"}}]))
    engine = Engine(hot_registry, artifacts_dir=tmp_path / "artifacts")

    for execution in ("one", "two", "three"):
        result = await engine.run(flow, journal=MemoryJournal(execution))
        assert result.status == "succeeded"

    assert SEEN["validations"] == 1
    models = received()
    assert len(models) == 3
    assert all(model is models[0] for model in models)


async def test_a_step_registered_with_another_params_model_validates_with_its_own(hot_registry, tmp_path):
    class Wider(BaseModel):
        model_config = ConfigDict(extra="forbid")
        value: Any = Field(None, description="Returned as the output.")
        even: bool = Field(False, description="Unused.")

    async def wider(params: Wider) -> str:
        return type(params).__name__

    flow = load_flow(flow_document([{"id": "s", "type": "hot.seen", "params": {"value": 1}}]), registry=hot_registry)
    registry = StepRegistry([*BUILTIN_STEPS, step("hot.seen", params=Wider)(wider)])
    journal = MemoryJournal("wider")

    result = await Engine(registry, artifacts_dir=tmp_path / "a").run(flow, journal=journal)

    assert result.status == "succeeded"
    assert received() == []
    (done,) = [e for e in journal.read() if e.type == "node.succeeded"]
    assert done.data["output"] == "Wider"


async def test_an_expression_that_renders_a_bad_value_fails_with_the_param_path(hot_registry, tmp_path):
    class Count(BaseModel):
        model_config = ConfigDict(extra="forbid")
        limits: dict[str, int] = Field(description="Named numbers.")

    async def count(params: Count) -> int:
        return sum(params.limits.values())

    registry = StepRegistry([*BUILTIN_STEPS, step("hot.count", params=Count)(count)])
    loop = {
        "id": "loop",
        "type": "control.foreach",
        "params": {"items": [1, "two"]},
        "body": {"nodes": [{"id": "c", "type": "hot.count", "params": {"limits": {"n": "{{ item }}"}}}], "edges": []},
    }
    flow = load_flow(flow_document([loop]), registry=registry)
    journal = MemoryJournal("bad")

    result = await Engine(registry, artifacts_dir=tmp_path / "a").run(flow, journal=journal)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["kind"] == "validation"
    assert result.error["node"] == "loop[1]/c"
    assert result.error["message"].startswith("invalid params: params.limits.n: ")
    done = [e.data["output"] for e in journal.read() if e.type == "node.succeeded" and e.path == "loop[0]/c"]
    assert done == [1]


async def test_an_expression_param_is_rendered_and_validated_for_each_item(hot_registry, tmp_path):
    loop = {
        "id": "loop",
        "type": "control.foreach",
        "params": {"items": [1, 2, 3]},
        "body": {"nodes": [{"id": "s", "type": "hot.seen", "params": {"value": "{{ item * 10 }}"}}], "edges": []},
    }

    result, events = await run_doc(hot_registry, tmp_path, [loop])

    assert result.status == "succeeded"
    assert [model.value for model in received()] == [10, 20, 30]
    assert SEEN["validations"] == 3
    outputs = [e.data["output"] for e in events if e.type == "node.succeeded" and e.path.endswith("/s")]
    assert outputs == [10, 20, 30]


async def test_nodes_of_one_type_with_different_constant_params_keep_their_own(hot_registry, tmp_path):
    nodes = [
        {"id": "a", "type": "hot.seen", "params": {"value": "A"}},
        {"id": "b", "type": "hot.seen", "params": {"value": "B"}},
        {"id": "c", "type": "hot.seen", "params": {"value": "A"}},
    ]

    result, events = await run_doc(hot_registry, tmp_path, nodes, [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}])

    assert result.status == "succeeded"
    assert [(path, model.value) for path, model in SEEN["params"]] == [("a", "A"), ("b", "B"), ("c", "A")]
    assert received("a")[0] is not received("c")[0]
    assert {e.path: e.data["output"] for e in events if e.type == "node.succeeded"} == {"a": "A", "b": "B", "c": "A"}


async def test_a_retried_node_gets_the_same_validated_params_and_a_failure_is_not_kept(hot_registry, tmp_path):
    nodes = [
        {
            "id": "odd",
            "type": "hot.seen",
            "params": {"value": 3, "even": True},
            "retry": {"max_attempts": 3, "backoff_s": 0},
        }
    ]

    result, events = await run_doc(hot_registry, tmp_path, nodes)

    assert result.status == "failed"
    assert [e.data["attempt"] for e in events if e.type == "node.started"] == [1, 2, 3]
    models = received()
    assert len(models) == 3
    assert all(model is models[0] for model in models)


async def test_invalid_constant_params_fail_every_attempt_with_the_validation_error(hot_registry, tmp_path):
    # load_flow checks params, so build a node whose params only fail when a step of another
    # model is registered under the same name at run time.
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        value: int = Field(description="A number.")

    async def strict(params: Strict) -> int:
        return params.value

    flow = load_flow(flow_document([{"id": "n", "type": "hot.seen", "params": {"value": "x"}}]), registry=hot_registry)
    registry = StepRegistry([*BUILTIN_STEPS, step("hot.seen", params=Strict)(strict)])
    for _ in range(2):
        journal = MemoryJournal("strict")
        result = await Engine(registry, artifacts_dir=tmp_path / "a").run(flow, journal=journal)
        assert result.status == "failed"
        assert result.error is not None
        assert result.error["kind"] == "validation"
        assert "params.value" in result.error["message"]


async def test_cancel_reaches_an_async_step_through_its_context(hot_registry, tmp_path):
    flow = load_flow(flow_document([{"id": "w", "type": "hot.wait_cancel", "params": {}}]), registry=hot_registry)
    engine = Engine(hot_registry, artifacts_dir=tmp_path / "artifacts")
    task = asyncio.create_task(engine.run(flow, journal=MemoryJournal("to-cancel")))
    for _ in range(500):
        if engine.cancel("to-cancel"):
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0)
    result = await asyncio.wait_for(task, 2)

    assert result.status == "cancelled"
    assert SEEN.get("cancelled_seen") is True


async def test_an_async_step_is_not_cancelled_by_a_sibling_timing_out(hot_registry, tmp_path):
    nodes = [
        {"id": "slow", "type": "core.wait", "params": {"seconds": 5}, "timeout_s": 0.05, "on_error": "continue"},
        {"id": "after", "type": "hot.seen", "params": {"value": 1}},
    ]

    result, _ = await run_doc(hot_registry, tmp_path, nodes, [{"from": "slow", "to": "after"}])

    assert result.status == "succeeded"
    assert [model.value for model in received()] == [1]


async def test_an_output_holding_a_secret_is_masked_in_the_journal(hot_registry, tmp_path):
    secret = "tok-9f8e7d6c5b4a"
    nodes = [{"id": "e", "type": "hot.echo_secret", "params": {}}]

    result, events = await run_doc(hot_registry, tmp_path, nodes, secrets={"api": secret}.get)

    assert result.status == "succeeded"
    journal = json.dumps([e.to_dict() for e in events])
    assert secret not in journal
    (done,) = [e for e in events if e.type == "node.succeeded"]
    assert done.data["output"] == {"headers": {"authorization": "Bearer ***"}, "json": {"items": ["***"]}}


async def cycle(params: SeenParams) -> list[Any]:
    """An output that refers to itself."""
    loop: list[Any] = ["head"]
    loop.append(loop)
    return loop


def test_make_event_builds_the_same_frozen_event():
    import dataclasses

    from shared.engine._events import Event, make_event

    data = {"output": 1}
    made = make_event(7, "node.succeeded", "a/b", data, 12.5)

    assert type(made) is Event
    assert made == Event(7, "node.succeeded", "a/b", data, 12.5)
    assert made.to_dict() == {"seq": 7, "type": "node.succeeded", "path": "a/b", "data": data, "ts": 12.5}
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = 8  # type: ignore[misc]


async def test_an_output_that_refers_to_itself_is_journaled_as_its_repr(tmp_path):
    registry = StepRegistry([*BUILTIN_STEPS, step("hot.cycle", params=SeenParams)(cycle)])

    result, events = await run_doc(registry, tmp_path, [{"id": "c", "type": "hot.cycle", "params": {}}])

    assert result.status == "succeeded"
    (done,) = [e for e in events if e.type == "node.succeeded"]
    assert done.data["output"] == "['head', [...]]"


def test_the_masker_remembers_short_strings_but_a_new_secret_still_masks_them():
    from shared.expressions import SecretMasker

    masker = SecretMasker()
    masker.add("first-secret-1")
    event = {"note": "token new-secret-22 here", "other": "first-secret-1"}
    assert masker.mask(event) == {"note": "token new-secret-22 here", "other": "***"}

    masker.add("new-secret-22")  # the memo of the old pattern must not answer any more

    assert masker.mask(event) == {"note": "token *** here", "other": "***"}
    assert masker.mask(["NEW-SECRET-22"]) == ["***"]


def test_the_masker_memo_is_bounded_and_long_strings_are_masked_without_it():
    from shared.expressions import _secrets
    from shared.expressions._secrets import MEMO_MAX_LENGTH, MEMO_SIZE, SecretMasker

    masker = SecretMasker()
    masker.add("hunter2-long-secret")
    masker.mask([f"value {i}" for i in range(MEMO_SIZE + 10)])
    matcher = masker._matcher
    assert matcher is not None
    assert 0 < len(matcher[1]) <= MEMO_SIZE

    long_text = "x" * MEMO_MAX_LENGTH + " hunter2-long-secret"
    assert masker.mask({"k": long_text}) == {"k": "x" * MEMO_MAX_LENGTH + " ***"}
    assert long_text not in matcher[1]
    assert _secrets.MASK == "***"


class FreshLoader:
    """Loads a sub-flow anew on every call and keeps nothing: node objects come and go."""

    def __init__(self, registry: StepRegistry, documents: dict[str, dict[str, Any]]) -> None:
        self.registry = registry
        self.documents = documents

    def load(self, reference: str, caller: Any) -> Any:
        import gc

        # Free the previous sub-flow's nodes, so their ids could be reused: they are young, so the
        # two young generations hold them (a full collection late in a full run, with the whole
        # suite's heap, took seconds per call).
        gc.collect(1)
        return load_flow(self.documents[reference], registry=self.registry)


async def test_sub_flows_loaded_anew_each_call_get_their_own_constant_params(hot_registry, tmp_path):
    def child(value: str) -> dict[str, Any]:
        return flow_document(
            [{"id": "s", "type": "hot.seen", "params": {"value": value}}], outputs={"v": "{{ steps.s.output }}"}
        )

    loader = FreshLoader(hot_registry, {"a": child("A"), "b": child("B")})
    loop = {
        "id": "each",
        "type": "control.foreach",
        "params": {"items": ["a", "b", "a", "b"]},
        "body": {"nodes": [{"id": "call", "type": "flow.call", "params": {"flow": "{{ item }}"}}], "edges": []},
    }

    result, events = await run_doc(hot_registry, tmp_path, [loop], loader=loader)

    assert result.status == "succeeded"
    assert [model.value for model in received()] == ["A", "B", "A", "B"]
    calls = [e.data["output"] for e in events if e.type == "node.succeeded" and e.path.endswith("/call")]
    assert calls == [{"v": "A"}, {"v": "B"}, {"v": "A"}, {"v": "B"}]


async def test_load_flow_hands_over_the_models_of_nodes_in_every_body_and_only_those(hot_registry, tmp_path):
    def seen_node(node_id: str, value: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "hot.seen", "params": {"value": value, "even": True}}

    attempt = {
        "id": "t",
        "type": "control.try",
        "body": {"nodes": [seen_node("b", 3)], "edges": []},
        "catch": {"nodes": [seen_node("c", 4)], "edges": []},
        "finally": {"nodes": [seen_node("f", 6), seen_node("x", "{{ 2 * 4 }}")], "edges": []},
    }

    result, _ = await run_doc(hot_registry, tmp_path, [attempt])

    assert result.status == "succeeded"
    assert sorted((path, model.value) for path, model in SEEN["params"]) == [
        ("t/b", 3),
        ("t/c", 4),
        ("t/f", 6),
        ("t/x", 8),
    ]
    assert SEEN["validations"] == 1  # only the node with an expression, at its run
