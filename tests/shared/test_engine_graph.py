"""DAG scheduling: order, data between nodes, parallel branches and their bound, routers,
joins and dead-path elimination."""

from __future__ import annotations

import itertools

import pytest

from shared.engine import MemoryJournal
from shared.errors import FlowInputError


def work(node_id: str, **params: object) -> dict[str, object]:
    return {"id": node_id, "type": "test.work", "params": params}


def noop(node_id: str, value: object = None) -> dict[str, object]:
    return {"id": node_id, "type": "core.noop", "params": {"value": value}}


# -- order and data -----------------------------------------------------------------------------


async def test_a_chain_runs_in_edge_order_and_passes_outputs_downstream(make_flow, run):
    flow = make_flow(
        [
            noop("c", "{{ steps.b.output * 10 }}"),
            noop("a", "{{ inputs.n }}"),
            noop("b", "{{ steps.a.output + 1 }}"),
        ],
        [("a", "b"), ("b", "c")],
        inputs={"n": {"type": "integer", "required": True}},
        outputs={"result": "{{ steps.c.output }}"},
    )
    result, events = await run(flow, {"n": 4})

    assert result.status == "succeeded"
    assert result.outputs == {"result": 50}
    assert result.error is None
    assert [e.path for e in events if e.type == "node.started"] == ["a", "b", "c"]


async def test_the_journal_of_a_run_tells_the_whole_story(make_flow, run):
    flow = make_flow(
        [noop("a", 1), noop("b", "{{ steps.a.output }}")],
        [("a", "b")],
        name="story",
        inputs={"who": {"type": "string", "default": "bot"}},
        variables={"v": 1},
    )
    result, events = await run(flow)

    assert [(e.type, e.path) for e in events] == [
        ("execution.started", ""),
        ("node.started", "a"),
        ("node.succeeded", "a"),
        ("node.started", "b"),
        ("node.succeeded", "b"),
        ("execution.finished", ""),
    ]
    started = events[0].data
    assert started["execution_id"] == result.execution_id
    assert started["flow"] == "story"
    assert started["inputs"] == {"who": "bot"}
    assert started["variables"] == {"v": 1}
    assert (events[1].data["attempt"], events[1].data["type"]) == (1, "core.noop")
    assert events[2].data == {"output": 1, "port": "out"}
    assert events[-1].data == {"status": "succeeded", "outputs": {}, "error": None}
    assert all(later.ts >= earlier.ts for earlier, later in itertools.pairwise(events))


async def test_expressions_see_inputs_vars_steps_execution_and_env(make_flow, run):
    flow = make_flow(
        [noop("a", {"x": [1, 2]})],
        inputs={"name": {"type": "string"}},
        variables={"greeting": "hi {{ inputs.name }}"},
        outputs={
            "greeting": "{{ vars.greeting }}",
            "second": "{{ steps.a.output.x[1] }}",
            "status": "{{ steps.a.status }}",
            "port": "{{ steps.a.port }}",
            "error": "{{ steps.a.error }}",
            "execution": "{{ execution.id }}",
            "region": "{{ env.REGION }}",
        },
    )
    journal = MemoryJournal("exec-42")
    result, _ = await run(flow, {"name": "ada"}, journal=journal, env={"REGION": "eu"})

    assert result.outputs == {
        "greeting": "hi ada",
        "second": 2,
        "status": "succeeded",
        "port": "out",
        "error": None,
        "execution": "exec-42",
        "region": "eu",
    }


async def test_inputs_that_do_not_match_the_declaration_are_refused_before_anything_is_journaled(
    make_flow, make_engine
):
    flow = make_flow([noop("a")], inputs={"n": {"type": "integer", "required": True}})
    journal = MemoryJournal("refused")

    with pytest.raises(FlowInputError) as caught:
        await make_engine().run(flow, {"n": "four", "extra": 1}, journal=journal)

    assert "inputs.n" in str(caught.value)
    assert "inputs.extra" in str(caught.value)
    assert journal.read() == []


# -- parallel branches ---------------------------------------------------------------------------


async def test_independent_branches_run_at_the_same_time(make_flow, run, probe):
    flow = make_flow(
        [
            work("a", sleep=0.05, value="A", group="p"),
            work("b", sleep=0.05, value="B", group="p"),
            noop("join", "{{ steps.a.output ~ steps.b.output }}"),
        ],
        [("a", "join"), ("b", "join")],
        outputs={"joined": "{{ steps.join.output }}"},
    )
    result, _ = await run(flow)

    assert result.outputs == {"joined": "AB"}
    assert probe.peak["p"] == 2


async def test_a_join_starts_only_after_every_active_branch_finished(make_flow, run):
    flow = make_flow(
        [work("slow", sleep=0.05), work("fast"), work("join")],
        [("slow", "join"), ("fast", "join")],
    )
    _, events = await run(flow)

    order = [(e.type, e.path) for e in events if e.type in ("node.started", "node.succeeded")]
    assert order.index(("node.started", "join")) > order.index(("node.succeeded", "slow"))
    assert order.index(("node.started", "join")) > order.index(("node.succeeded", "fast"))


async def test_parallel_steps_are_bounded_by_max_parallel_nodes(make_flow, run, probe):
    flow = make_flow([work(f"n{i}", sleep=0.02, group="p") for i in range(5)], settings={"max_parallel_nodes": 2})
    result, _ = await run(flow)

    assert result.status == "succeeded"
    assert probe.peak["p"] == 2
    assert len(probe.finished) == 5


async def test_the_default_parallel_bound_is_eight(make_flow, run, probe):
    flow = make_flow([work(f"n{i}", sleep=0.03, group="p") for i in range(11)])
    await run(flow)

    assert probe.peak["p"] == 8


async def test_the_parallel_bound_counts_leaf_steps_inside_loops(make_flow, run, probe):
    # Only leaf steps take a slot: a container waiting for its body must not starve it.
    flow = make_flow(
        [
            {
                "id": "outer",
                "type": "control.parallel_foreach",
                "params": {"items": 2, "concurrency": 2},
                "body": {
                    "nodes": [
                        {
                            "id": "inner",
                            "type": "control.parallel_foreach",
                            "params": {"items": 4, "concurrency": 4},
                            "body": {"nodes": [work("leaf", sleep=0.02, group="leaf")]},
                        },
                    ]
                },
            }
        ],
        settings={"max_parallel_nodes": 3},
    )
    result, _ = await run(flow)

    assert result.status == "succeeded"
    assert probe.peak["leaf"] == 3
    assert len(probe.finished) == 8


# -- routers and dead paths ----------------------------------------------------------------------


def diamond(condition: object) -> tuple[list[dict[str, object]], list[tuple[str, ...]]]:
    nodes = [
        {"id": "cond", "type": "control.if", "params": {"condition": condition}},
        work("yes", value="took yes"),
        work("no", value="took no"),
        noop("join", "{{ steps.yes.output or steps.no.output }}"),
    ]
    edges = [("cond", "true", "yes"), ("cond", "false", "no"), ("yes", "join"), ("no", "join")]
    return nodes, edges


@pytest.mark.parametrize(("flag", "taken", "not_taken"), [(True, "yes", "no"), (False, "no", "yes")])
async def test_if_routes_by_its_condition_and_the_join_ignores_the_branch_not_taken(
    make_flow, run, probe, flag, taken, not_taken
):
    nodes, edges = diamond("{{ inputs.flag }}")
    flow = make_flow(
        nodes,
        edges,
        inputs={"flag": {"type": "boolean"}},
        outputs={
            "joined": "{{ steps.join.output }}",
            "port": "{{ steps.cond.port }}",
            "skipped": "{{ steps[inputs.flag and 'no' or 'yes'].status }}",
        },
    )
    result, events = await run(flow, {"flag": flag})

    assert result.outputs == {"joined": f"took {taken}", "port": str(flag).lower(), "skipped": "skipped"}
    assert probe.started == [taken]
    (branch,) = [e for e in events if e.type == "branch.taken"]
    assert (branch.path, branch.data) == ("cond", {"port": str(flag).lower()})
    (skipped,) = [e for e in events if e.type == "node.skipped"]
    assert (skipped.path, skipped.data["reason"]) == (not_taken, "branch")
    assert not_taken not in [e.path for e in events if e.type == "node.started"]


async def test_if_output_is_the_truth_value_of_its_condition(make_flow, run):
    nodes, edges = diamond("{{ [0] }}")
    outcome = await run(make_flow(nodes, edges, outputs={"cond": "{{ steps.cond.output }}"}))

    assert outcome.result.outputs == {"cond": True}
    assert outcome.status("yes") == "succeeded"


async def test_a_skipped_branch_skips_everything_downstream_that_has_no_other_active_input(make_flow, run):
    # start -> cond -true-> x -> y -> z ;  start -> j ; y -> j
    nodes = [
        work("start"),
        {"id": "cond", "type": "control.if", "params": {"condition": False}},
        work("x"),
        work("y"),
        work("z"),
        work("j"),
    ]
    edges = [("start", "cond"), ("cond", "true", "x"), ("x", "y"), ("y", "z"), ("start", "j"), ("y", "j")]
    outcome = await run(make_flow(nodes, edges))

    assert {p: outcome.status(p) for p in ("start", "cond", "x", "y", "z", "j")} == {
        "start": "succeeded",
        "cond": "succeeded",
        "x": "skipped",
        "y": "skipped",
        "z": "skipped",
        "j": "succeeded",
    }
    assert outcome.node_paths() == ["start", "cond", "j"]


async def test_a_node_fed_by_both_ports_of_a_router_runs_exactly_once(make_flow, run, probe):
    nodes = [{"id": "cond", "type": "control.if", "params": {"condition": True}}, work("after")]
    edges = [("cond", "true", "after"), ("cond", "false", "after")]
    outcome = await run(make_flow(nodes, edges))

    assert probe.started == ["after"]
    assert outcome.status("after") == "succeeded"


@pytest.mark.parametrize(
    ("value", "port"),
    [("b", "b"), (2, "2"), ("{{ 1 + 1 }}", "2"), (True, "true"), ("zzz", "default"), (None, "default")],
)
async def test_switch_fires_the_port_named_like_the_value_else_default(make_flow, run, probe, value, port):
    cases = ["a", "b", "2", "true"]
    nodes = [
        {"id": "sw", "type": "control.switch", "params": {"value": value, "cases": cases}},
        *[work(f"on_{c}") for c in [*cases, "default"]],
    ]
    edges = [("sw", c, f"on_{c}") for c in [*cases, "default"]]
    outcome = await run(make_flow(nodes, edges, outputs={"out": "{{ steps.sw.output }}"}))

    assert probe.started == [f"on_{port}"]
    assert outcome.result.outputs == {"out": port}
    assert [e.data for e in outcome.of("branch.taken", "sw")] == [{"port": port}]
    assert len(outcome.of("node.skipped")) == len(cases)


async def test_a_node_reading_a_node_on_a_branch_not_taken_sees_it_skipped(make_flow, run):
    nodes = [
        {"id": "cond", "type": "control.if", "params": {"condition": False}},
        work("t", value=1),
        work("f", value=2),
        noop("report", {"t": "{{ steps.t.status }}", "t_out": "{{ steps.t.output }}"}),
    ]
    edges = [("cond", "true", "t"), ("cond", "false", "f"), ("f", "report")]
    result, _ = await run(make_flow(nodes, edges, outputs={"r": "{{ steps.report.output }}"}))

    assert result.outputs == {"r": {"t": "skipped", "t_out": None}}
