"""Containers: foreach / parallel_foreach / while, try-catch-finally, flow.call sub-flows,
their nesting, and flow variables."""

from __future__ import annotations

from typing import Any

import pytest

from shared.engine import FileFlowLoader, MemoryJournal


def work(node_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "test.work", "params": params}


def noop(node_id: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.noop", "params": {"value": value}, **extra}


def fail(node_id: str, message: str = "it broke", **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.fail", "params": {"message": message, **params}}


def body(*nodes: dict[str, Any], edges: list[tuple[str, ...]] = ()) -> dict[str, Any]:
    return {
        "nodes": list(nodes),
        "edges": [
            dict(zip(("from", "to"), e, strict=True)) if len(e) == 2 else {"from": e[0], "port": e[1], "to": e[2]}
            for e in edges
        ],
    }


def loop(
    node_id: str,
    items: Any,
    *nodes: dict[str, Any],
    kind: str = "control.foreach",
    edges: list[tuple[str, ...]] = (),
    **params: Any,
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": kind,
        "params": {"items": items, **params},
        "body": body(*nodes, edges=edges),
    }


# -- foreach ---------------------------------------------------------------------------------


async def test_foreach_runs_the_body_once_per_item_in_order(make_flow, run, probe):
    flow = make_flow(
        [loop("each", ["a", "b", "c"], work("w", value="{{ index }}:{{ item }}"))],
        outputs={"out": "{{ steps.each.output }}"},
    )
    result, events = await run(flow)

    assert result.outputs == {"out": [{"w": "0:a"}, {"w": "1:b"}, {"w": "2:c"}]}
    assert probe.started == ["each[0]/w", "each[1]/w", "each[2]/w"]
    journal = [(e.type, e.path, e.data.get("index")) for e in events if e.path.startswith("each")]
    assert journal == [
        ("node.started", "each", None),
        ("iteration.started", "each", 0),
        ("node.started", "each[0]/w", None),
        ("node.succeeded", "each[0]/w", None),
        ("iteration.finished", "each", 0),
        ("iteration.started", "each", 1),
        ("node.started", "each[1]/w", None),
        ("node.succeeded", "each[1]/w", None),
        ("iteration.finished", "each", 1),
        ("iteration.started", "each", 2),
        ("node.started", "each[2]/w", None),
        ("node.succeeded", "each[2]/w", None),
        ("iteration.finished", "each", 2),
        ("node.succeeded", "each", None),
    ]
    (started,) = [e for e in events if e.type == "node.started" and e.path == "each"]
    assert started.data["items"] == ["a", "b", "c"]
    assert [e.data["result"] for e in events if e.type == "iteration.finished"] == [
        {"w": "0:a"},
        {"w": "1:b"},
        {"w": "2:c"},
    ]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ({"x": 1, "y": 2}, [{"key": "x", "value": 1}, {"key": "y", "value": 2}]),
        (3, [0, 1, 2]),
        ("{{ inputs.rows }}", [[1], [2]]),
        ([], []),
    ],
)
async def test_foreach_items_may_be_a_list_an_object_or_a_count(make_flow, run, items, expected):
    flow = make_flow(
        [loop("each", items, noop("n", "{{ item }}"), collect="{{ item }}")],
        inputs={"rows": {"type": "array", "default": [[1], [2]]}},
        outputs={"out": "{{ steps.each.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"out": expected}


@pytest.mark.parametrize("items", ["{{ 'text' }}", "{{ true }}", "{{ none }}", "{{ 2.5 }}"])
async def test_foreach_over_something_that_is_not_a_list_fails_with_kind_validation(make_flow, run, probe, items):
    result, _ = await run(make_flow([loop("each", items, work("w"))]))

    assert result.status == "failed"
    assert result.error["kind"] == "validation"
    assert "items" in result.error["message"]
    assert probe.started == []


async def test_collect_shapes_each_iteration_result(make_flow, run):
    flow = make_flow(
        [
            loop(
                "each",
                [1, 2, 3],
                noop("n", "{{ item * 10 }}"),
                collect="{{ {'i': index, 'n': steps.n.output} }}",
            )
        ],
        outputs={"out": "{{ steps.each.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"out": [{"i": 0, "n": 10}, {"i": 1, "n": 20}, {"i": 2, "n": 30}]}


async def test_loop_bodies_see_outer_results_but_their_own_results_stay_inside(make_flow, run):
    flow = make_flow(
        [
            noop("before", 100),
            loop("each", [1, 2], noop("inner", "{{ steps.before.output + item }}")),
            noop("after", {"inner_visible": "{{ steps.inner is defined }}", "loop": "{{ steps.each.output }}"}),
        ],
        [("before", "each"), ("each", "after")],
        outputs={"after": "{{ steps.after.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"after": {"inner_visible": False, "loop": [{"inner": 101}, {"inner": 102}]}}


async def test_each_iteration_is_its_own_node_instance_with_its_own_idempotency_key(make_flow, run):
    flow = make_flow(
        [loop("each", 2, {"id": "who", "type": "test.whoami"})],
        outputs={"keys": "{{ steps.each.output | map(attribute='who.key') | list }}"},
    )
    journal = MemoryJournal("exec-7")
    result, _ = await run(flow, journal=journal)

    assert result.outputs == {"keys": ["exec-7/each[0]/who", "exec-7/each[1]/who"]}


async def test_a_failing_iteration_of_a_sequential_foreach_stops_the_loop(make_flow, run, probe):
    flow = make_flow([loop("each", [0, 1, 2], work("w", fail_times="{{ 1 if item == 1 else 0 }}", retryable=False))])
    result, events = await run(flow)

    assert result.status == "failed"
    assert result.error["node"] == "each[1]/w"
    assert probe.started == ["each[0]/w", "each[1]/w"]
    assert [e.data["index"] for e in events if e.type == "iteration.finished"] == [0]


async def test_foreach_with_concurrency_runs_that_many_iterations_at_once_and_keeps_item_order(make_flow, run, probe):
    flow = make_flow(
        [
            loop(
                "each",
                [5, 4, 3, 2, 1, 0],
                work("w", sleep="{{ item / 100 }}", value="{{ item }}", group="it"),
                concurrency=2,
            )
        ],
        outputs={"out": "{{ steps.each.output | map(attribute='w') | list }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"out": [5, 4, 3, 2, 1, 0]}
    assert probe.peak["it"] == 2


async def test_parallel_foreach_returns_results_in_item_order_not_in_finishing_order(make_flow, run, probe):
    flow = make_flow(
        [
            loop(
                "each",
                [0.06, 0.04, 0.02, 0.0],
                work("w", sleep="{{ item }}", value="{{ index }}", group="it"),
                kind="control.parallel_foreach",
                collect="{{ steps.w.output }}",
            )
        ],
        outputs={"out": "{{ steps.each.output }}"},
    )
    result, events = await run(flow)

    assert result.outputs == {"out": [0, 1, 2, 3]}
    assert [e.data["index"] for e in events if e.type == "iteration.finished"] == [3, 2, 1, 0]
    assert probe.peak["it"] == 4


async def test_a_failing_parallel_iteration_fails_the_loop_and_cancels_the_running_ones(make_flow, run, probe):
    flow = make_flow(
        [
            loop(
                "each",
                [0, 1, 2],
                work(
                    "w",
                    sleep="{{ 0 if item == 1 else 5 }}",
                    fail_times="{{ 1 if item == 1 else 0 }}",
                    retryable=False,
                ),
                kind="control.parallel_foreach",
            )
        ]
    )
    result, _ = await run(flow)

    assert result.status == "failed"
    assert result.error["node"] == "each[1]/w"
    assert sorted(probe.cancelled) == ["each[0]/w", "each[2]/w"]


async def test_parallel_foreach_default_concurrency_is_the_flows_parallel_limit(make_flow, run, probe):
    # Iteration 0 holds a slot for a while; iteration 1 starts an inner parallel_foreach meanwhile.
    # Once the holder is done, the inner loop should use both slots of the flow.
    inner = loop(
        "inner",
        "{{ 6 if index == 1 else 0 }}",
        work("leaf", sleep=0.04, group="leaf"),
        kind="control.parallel_foreach",
    )
    flow = make_flow(
        [
            loop(
                "outer",
                2,
                work("hold", sleep="{{ 0.1 if index == 0 else 0 }}"),
                inner,
                edges=[("hold", "inner")],
                kind="control.parallel_foreach",
                concurrency=2,
            )
        ],
        settings={"max_parallel_nodes": 2},
    )
    result, _ = await run(flow)

    assert result.status == "succeeded"
    assert probe.peak["leaf"] == 2


# -- while -----------------------------------------------------------------------------------


async def test_while_repeats_its_body_until_the_condition_is_false(make_flow, run):
    flow = make_flow(
        [
            {
                "id": "count",
                "type": "control.while",
                "params": {"condition": "{{ vars.n < 3 }}"},
                "body": body(
                    {
                        "id": "inc",
                        "type": "data.set_variable",
                        "params": {"name": "n", "value": "{{ vars.n + 1 }}"},
                    }
                ),
            }
        ],
        variables={"n": 0},
        outputs={"n": "{{ vars.n }}", "out": "{{ steps.count.output }}"},
    )
    result, events = await run(flow)

    assert result.outputs == {"n": 3, "out": [{"inc": 1}, {"inc": 2}, {"inc": 3}]}
    assert [e.data["index"] for e in events if e.type == "iteration.started"] == [0, 1, 2]
    assert [e.path for e in events if e.type == "node.started"][1:] == [
        "count[0]/inc",
        "count[1]/inc",
        "count[2]/inc",
    ]


@pytest.mark.parametrize(("limit", "expected"), [(0, []), (2, [0, 1]), (3, [0, 1, 2])])
async def test_while_condition_sees_index_and_may_run_exactly_max_iterations(make_flow, run, limit, expected):
    flow = make_flow(
        [
            {
                "id": "w",
                "type": "control.while",
                "params": {
                    "condition": f"{{{{ index < {limit} }}}}",
                    "max_iterations": 3,
                    "collect": "{{ index }}",
                },
                "body": body(noop("n")),
            }
        ],
        outputs={"out": "{{ steps.w.output }}"},
    )
    result, _ = await run(flow)

    assert result.status == "succeeded"
    assert result.outputs == {"out": expected}


async def test_a_while_that_does_not_end_fails_with_kind_loop_limit(make_flow, run, probe):
    flow = make_flow(
        [
            {
                "id": "w",
                "type": "control.while",
                "params": {"condition": True, "max_iterations": 3},
                "body": body(work("spin")),
            }
        ]
    )
    result, _ = await run(flow)

    assert result.status == "failed"
    assert result.error["kind"] == "loop_limit"
    assert result.error["retryable"] is False
    assert "max_iterations=3" in result.error["message"]
    assert probe.started == ["w[0]/spin", "w[1]/spin", "w[2]/spin"]


async def test_while_max_iterations_defaults_to_1000(make_flow, run):
    flow = make_flow([{"id": "w", "type": "control.while", "params": {"condition": True}, "body": body(noop("n"))}])
    result, events = await run(flow, within=10)

    assert result.error["kind"] == "loop_limit"
    assert sum(1 for e in events if e.type == "iteration.finished") == 1000


# -- try ---------------------------------------------------------------------------------------


def try_node(
    node_id: str,
    body_graph: dict[str, Any],
    catch: dict[str, Any] | None = None,
    finally_: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": "control.try", "body": body_graph, **extra}
    if catch is not None:
        node["catch"] = catch
    if finally_ is not None:
        node["finally"] = finally_
    return node


async def test_a_try_whose_body_succeeds_skips_catch_runs_finally_and_reports_no_failure(make_flow, run, probe):
    flow = make_flow(
        [
            try_node(
                "t",
                body(work("a", value=1)),
                catch=body(work("c")),
                finally_=body(noop("fin", "{{ error }}")),
            )
        ],
        outputs={"t": "{{ steps.t.output }}", "fin": "{{ steps.fin.output }}", "a": "{{ steps.a.output }}"},
    )
    result, events = await run(flow)

    assert result.outputs == {"t": {"failed": False, "error": None}, "fin": None, "a": 1}
    assert probe.started == ["t/a"]
    assert [e.path for e in events if e.type == "node.started"] == ["t", "t/a", "t/fin"]


async def test_catch_receives_the_error_and_the_flow_carries_on(make_flow, run, probe):
    flow = make_flow(
        [
            try_node(
                "t",
                body(
                    work("a"),
                    fail("bad", "the invoice is wrong"),
                    work("never"),
                    edges=[("a", "bad"), ("bad", "never")],
                ),
                catch=body(
                    noop(
                        "handler",
                        {
                            "message": "{{ error.message }}",
                            "node": "{{ error.node }}",
                            "kind": "{{ error.kind }}",
                        },
                    )
                ),
                finally_=body(noop("fin", "{{ error.kind }}")),
            ),
            work("after"),
        ],
        [("t", "after")],
        outputs={
            "t": "{{ steps.t.output }}",
            "handler": "{{ steps.handler.output }}",
            "fin": "{{ steps.fin.output }}",
            "bad": "{{ steps.bad.status }}",
        },
    )
    result, events = await run(flow)

    assert result.status == "succeeded"
    assert result.outputs["handler"] == {
        "message": "the invoice is wrong",
        "node": "t/bad",
        "kind": "business",
    }
    assert result.outputs["fin"] == "business"
    assert result.outputs["bad"] == "failed"
    assert result.outputs["t"]["failed"] is True
    assert result.outputs["t"]["error"]["message"] == "the invoice is wrong"
    assert probe.started == ["t/a", "after"]
    assert [e.path for e in events if e.type == "node.started"] == [
        "t",
        "t/a",
        "t/bad",
        "t/handler",
        "t/fin",
        "after",
    ]


async def test_without_catch_the_error_propagates_after_finally(make_flow, run, probe):
    flow = make_flow(
        [try_node("t", body(fail("bad", "boom")), finally_=body(work("fin"))), work("after")],
        [("t", "after")],
    )
    result, events = await run(flow)

    assert result.status == "failed"
    assert result.error["node"] == "t/bad"
    assert result.error["message"] == "boom"
    assert probe.started == ["t/fin"]
    failed = [e.path for e in events if e.type == "node.failed"]
    assert failed == ["t/bad", "t"]


async def test_an_error_in_catch_propagates_after_finally(make_flow, run, probe):
    flow = make_flow(
        [
            try_node(
                "t",
                body(fail("bad", "first")),
                catch=body(fail("again", "second")),
                finally_=body(work("fin")),
            )
        ]
    )
    result, _ = await run(flow)

    assert result.status == "failed"
    assert (result.error["node"], result.error["message"]) == ("t/again", "second")
    assert probe.started == ["t/fin"]


async def test_an_error_in_finally_fails_the_try(make_flow, run):
    flow = make_flow([try_node("t", body(noop("ok")), finally_=body(fail("fin", "cleanup failed")))])
    result, _ = await run(flow)

    assert result.status == "failed"
    assert result.error["node"] == "t/fin"


async def test_a_try_with_on_error_continue_absorbs_an_uncaught_error(make_flow, run):
    flow = make_flow(
        [try_node("t", body(fail("bad", "nope")), on_error="continue"), noop("after", "ran")],
        [("t", "after")],
        outputs={"after": "{{ steps.after.output }}", "t_status": "{{ steps.t.status }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"after": "ran", "t_status": "failed"}


# -- nesting -------------------------------------------------------------------------------------


def nested_flow(make_flow: Any, fail_on: Any) -> Any:
    """try { start -> gate(if) -true-> outer foreach { inner foreach { leaf } } ; gate -false-> other }
    catch { handler } finally { fin }"""
    leaf = work("leaf", value="{{ item }}", fail_times=f"{{{{ 1 if item == {fail_on!r} else 0 }}}}", retryable=False)
    inner = loop("inner", "{{ [item, item * 10] }}", leaf, collect="{{ steps.leaf.output }}")
    outer = loop("outer", "{{ inputs.values }}", inner, collect="{{ steps.inner.output }}")
    guarded = body(
        noop("start"),
        {"id": "gate", "type": "control.if", "params": {"condition": "{{ inputs.values | length }}"}},
        outer,
        work("other"),
        edges=[("start", "gate"), ("gate", "true", "outer"), ("gate", "false", "other")],
    )
    return make_flow(
        [try_node("t", guarded, catch=body(noop("handler", "{{ error.node }}")), finally_=body(work("fin")))],
        inputs={"values": {"type": "array"}},
        outputs={
            "t": "{{ steps.t.output.failed }}",
            "outer": "{{ steps.outer.output }}",
            "other": "{{ steps.other.status }}",
        },
    )


async def test_loops_inside_a_branch_inside_a_try_run_with_nested_instance_paths(make_flow, run, probe):
    result, events = await run(nested_flow(make_flow, fail_on=None), {"values": [1, 2]})

    assert result.status == "succeeded"
    assert result.outputs == {"t": False, "outer": [[1, 10], [2, 20]], "other": "skipped"}
    assert probe.started == [
        "t/outer[0]/inner[0]/leaf",
        "t/outer[0]/inner[1]/leaf",
        "t/outer[1]/inner[0]/leaf",
        "t/outer[1]/inner[1]/leaf",
        "t/fin",
    ]
    assert ("node.skipped", "t/other") in [(e.type, e.path) for e in events]


async def test_a_failure_deep_inside_nested_loops_unwinds_to_the_enclosing_try(make_flow, run, probe):
    flow = nested_flow(make_flow, fail_on=20)
    result, events = await run(flow, {"values": [1, 2, 3]})

    assert result.status == "succeeded"
    assert result.outputs["t"] is True
    handler = [e.data["output"] for e in events if e.type == "node.succeeded" and e.path == "t/handler"]
    assert handler == ["t/outer[1]/inner[1]/leaf"]
    assert probe.started == [
        "t/outer[0]/inner[0]/leaf",
        "t/outer[0]/inner[1]/leaf",
        "t/outer[1]/inner[0]/leaf",
        "t/outer[1]/inner[1]/leaf",
        "t/fin",
    ]
    failed = [e.path for e in events if e.type == "node.failed"]
    assert failed == ["t/outer[1]/inner[1]/leaf", "t/outer[1]/inner", "t/outer"]


async def test_the_branch_not_taken_inside_a_try_is_skipped_with_its_loops(make_flow, run, probe):
    result, events = await run(nested_flow(make_flow, fail_on=None), {"values": []})

    assert result.outputs["other"] == "succeeded"
    assert probe.started == ["t/other", "t/fin"]
    assert ("node.skipped", "t/outer") in [(e.type, e.path) for e in events]


# -- sub-flows ---------------------------------------------------------------------------------


@pytest.fixture
def child_flow(tmp_path, write_flow):
    return write_flow(
        tmp_path / "flows" / "child.json",
        [
            noop("mul", "{{ inputs.x * vars.factor }}"),
            {"id": "bump", "type": "data.set_variable", "params": {"name": "factor", "value": 0}},
        ],
        [("mul", "bump")],
        name="child",
        inputs={"x": {"type": "integer", "required": True}},
        variables={"factor": 10},
        outputs={"y": "{{ steps.mul.output }}", "factor_after": "{{ vars.factor }}"},
    )


async def test_flow_call_runs_a_sub_flow_file_with_mapped_inputs_and_returns_its_outputs(
    make_flow, run, registry, child_flow, probe
):
    loader = FileFlowLoader(child_flow.parent, registry)
    flow = make_flow(
        [
            {
                "id": "call",
                "type": "flow.call",
                "params": {"flow": "child", "inputs": {"x": "{{ inputs.n + 1 }}"}},
            }
        ],
        inputs={"n": {"type": "integer"}},
        variables={"factor": "parent"},
        outputs={"sub": "{{ steps.call.output }}", "factor": "{{ vars.factor }}"},
    )
    result, events = await run(flow, {"n": 4}, loader=loader)

    assert result.status == "succeeded"
    assert result.outputs == {"sub": {"y": 50, "factor_after": 0}, "factor": "parent"}
    assert [e.path for e in events if e.type == "node.started"] == ["call", "call/mul", "call/bump"]
    assert [(e.path, e.data) for e in events if e.type == "variable.set"] == [
        ("call", {"scope": "call", "name": "factor", "value": 10}),
        ("call/bump", {"scope": "call", "name": "factor", "value": 0}),
    ]


async def test_sub_flows_find_their_own_sub_flows_next_to_their_file(make_flow, run, registry, tmp_path, write_flow):
    write_flow(
        tmp_path / "lib" / "grand.yaml",
        [noop("g", "{{ inputs.v ~ '!' }}")],
        name="grand",
        inputs={"v": {"type": "string"}},
        outputs={"v": "{{ steps.g.output }}"},
    )
    write_flow(
        tmp_path / "lib" / "middle.json",
        [{"id": "down", "type": "flow.call", "params": {"flow": "grand", "inputs": {"v": "{{ inputs.v }}"}}}],
        name="middle",
        inputs={"v": {"type": "string"}},
        outputs={"v": "{{ steps.down.output.v }}"},
    )
    loader = FileFlowLoader(tmp_path, registry)
    flow = make_flow(
        [{"id": "up", "type": "flow.call", "params": {"flow": "lib/middle.json", "inputs": {"v": "hi"}}}],
        outputs={"v": "{{ steps.up.output.v }}"},
    )
    result, events = await run(flow, loader=loader)

    assert result.outputs == {"v": "hi!"}
    assert "up/down/g" in [e.path for e in events if e.type == "node.succeeded"]


async def test_a_missing_sub_flow_fails_the_call_node_with_kind_validation(make_flow, run, registry, tmp_path):
    flow = make_flow([{"id": "call", "type": "flow.call", "params": {"flow": "nowhere/ghost"}}])
    result, _ = await run(flow, loader=FileFlowLoader(tmp_path, registry))

    assert result.status == "failed"
    assert result.error["kind"] == "validation"
    assert result.error["node"] == "call"
    assert "nowhere/ghost" in result.error["message"]


async def test_flow_call_without_a_loader_fails_with_kind_configuration(make_flow, run):
    result, _ = await run(make_flow([{"id": "call", "type": "flow.call", "params": {"flow": "child"}}]))

    assert result.error["kind"] == "configuration"


async def test_inputs_a_sub_flow_does_not_accept_fail_the_call_with_kind_validation(
    make_flow, run, registry, child_flow
):
    flow = make_flow([{"id": "call", "type": "flow.call", "params": {"flow": "child", "inputs": {"x": "ten"}}}])
    result, events = await run(flow, loader=FileFlowLoader(child_flow.parent, registry))

    assert result.error["kind"] == "validation"
    assert "inputs.x" in result.error["message"]
    assert not [e for e in events if e.path.startswith("call/")]


async def test_a_failure_inside_a_sub_flow_fails_the_call_node_with_the_inner_error(
    make_flow, run, registry, tmp_path, write_flow
):
    write_flow(tmp_path / "bad.json", [fail("oops", "inner trouble")], name="bad")
    flow = make_flow([{"id": "call", "type": "flow.call", "params": {"flow": "bad"}}])
    result, events = await run(flow, loader=FileFlowLoader(tmp_path, registry))

    assert result.status == "failed"
    assert (result.error["node"], result.error["message"]) == ("call/oops", "inner trouble")
    assert [e.path for e in events if e.type == "node.failed"] == ["call/oops", "call"]


async def test_a_flow_calling_itself_stops_at_the_nesting_limit(run, registry, tmp_path, write_flow):
    from shared.flow import load_flow

    path = write_flow(
        tmp_path / "again.json",
        [{"id": "me", "type": "flow.call", "params": {"flow": "again"}}],
        name="again",
    )
    loader = FileFlowLoader(tmp_path, registry)
    result, events = await run(load_flow(path, registry=registry), loader=loader)

    assert result.status == "failed"
    assert result.error["kind"] == "validation"
    assert "16" in result.error["message"]
    assert max(e.path.count("/") for e in events) == 16


# -- variables --------------------------------------------------------------------------------


async def test_flow_variables_start_from_the_document_and_may_use_inputs(make_flow, run):
    flow = make_flow(
        [noop("n", "{{ vars.greeting }} / {{ vars.limit }}")],
        inputs={"who": {"type": "string", "default": "ada"}},
        variables={"greeting": "hello {{ inputs.who }}", "limit": 3},
        outputs={"n": "{{ steps.n.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"n": "hello ada / 3"}


async def test_set_variable_in_a_sequential_loop_accumulates(make_flow, run):
    flow = make_flow(
        [
            loop(
                "each",
                [1, 2, 3, 4],
                {
                    "id": "add",
                    "type": "data.set_variable",
                    "params": {"name": "total", "value": "{{ vars.total + item }}"},
                },
                noop("seen", "{{ vars.total }}"),
                edges=[("add", "seen")],
            )
        ],
        variables={"total": 0},
        outputs={
            "total": "{{ vars.total }}",
            "seen": "{{ steps.each.output | map(attribute='seen') | list }}",
        },
    )
    result, events = await run(flow)

    assert result.outputs == {"total": 10, "seen": [1, 3, 6, 10]}
    assert [e.data["value"] for e in events if e.type == "variable.set"] == [1, 3, 6, 10]
    assert {e.data["scope"] for e in events if e.type == "variable.set"} == {""}


async def test_node_set_assigns_variables_with_output_in_scope(make_flow, run):
    flow = make_flow(
        [
            loop(
                "each",
                ["a", "b"],
                noop(
                    "n",
                    "{{ item | upper }}",
                    set={"last": "{{ output }}", "seen": "{{ vars.seen + [output] }}"},
                ),
            )
        ],
        variables={"seen": [], "last": None},
        outputs={"last": "{{ vars.last }}", "seen": "{{ vars.seen }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"last": "B", "seen": ["A", "B"]}


async def test_set_variables_sets_several_at_once(make_flow, run):
    flow = make_flow(
        [{"id": "s", "type": "data.set_variables", "params": {"values": {"a": 1, "b": "{{ 1 + 1 }}"}}}],
        variables={"a": 0},
        outputs={"a": "{{ vars.a }}", "b": "{{ vars.b }}", "out": "{{ steps.s.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"a": 1, "b": 2, "out": {"a": 1, "b": 2}}


async def test_a_success_and_the_variables_it_sets_are_journaled_in_one_batch(make_flow, make_engine):
    flow = make_flow([noop("n", 5, set={"x": "{{ output * 2 }}", "y": "{{ output }}"})])
    journal = MemoryJournal("batches")
    batches: list[list[tuple[str, str]]] = []
    journal.subscribe(lambda batch: batches.append([(e.type, e.path) for e in batch]))
    await make_engine().run(flow, journal=journal)

    assert [("variable.set", "n"), ("variable.set", "n"), ("node.succeeded", "n")] in batches
    assert [e.data for e in journal.read() if e.type == "variable.set"] == [
        {"scope": "", "name": "x", "value": 10},
        {"scope": "", "name": "y", "value": 5},
    ]


async def test_variables_set_in_a_try_body_are_visible_after_the_try(make_flow, run):
    flow = make_flow(
        [
            try_node(
                "t",
                body(
                    {"id": "s", "type": "data.set_variable", "params": {"name": "v", "value": "inside"}},
                    fail("f"),
                    edges=[("s", "f")],
                ),
                catch=body(noop("c")),
            ),
            noop("after", "{{ vars.v }}"),
        ],
        [("t", "after")],
        variables={"v": "before"},
        outputs={"after": "{{ steps.after.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"after": "inside"}
