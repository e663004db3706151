"""Crash/resume harness for the engine's durability tests, and random flows for the property test.

A crash is simulated two ways:

* `CrashingJournal` wraps a journal and raises `Crash` (a `BaseException`, like a dying process,
  so nothing in the engine catches it) when the batch holding event number `at` is appended,
  either before the batch is stored or right after. A batch is the unit of atomicity of a real
  journal, so a crash never splits one. `run_crashing` also cancels the engine's task at that
  moment: a dead process does not go on unwinding its other branches.
* `run_until` runs the engine in a task and cancels that task from outside (as a stopping host
  would) once a condition holds, typically while a `test.count` step is held open.

The `test.count` step returns its `value` param and records every invocation by
`context().idempotency_key` in a `Recorder`, so a test can tell which node instances ran again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from shared.engine import Engine, Event, ExecutionResult, FileFlowLoader, FlowLoader, MemoryJournal
from shared.engine._journal import EventSpec, Journal
from shared.errors import BusinessError, StepError
from shared.flow import Flow, load_flow
from shared.steps import StepRegistry, context, step
from shared.steps.builtin import BUILTIN_STEPS

EXECUTION_ID = "exec-1"
HANG_S = 5.0
"""No flow here takes more than milliseconds; a run still going after this is a hang."""
TERMINAL = ("node.succeeded", "node.skipped")


# -- crashes ------------------------------------------------------------------------------------


class Crash(BaseException):
    """The process died: raised by `CrashingJournal`, never caught by the engine."""


class CrashingJournal:
    """A journal that dies when the batch holding event `at` is appended.

    Args:
        inner: where events are really stored.
        at: the seq number of the event whose batch is the last thing the process does.
        store: True to store that batch before dying (the crash comes right after the write),
            False to die before it is stored.
    """

    def __init__(self, inner: MemoryJournal, at: int, *, store: bool) -> None:
        self.inner = inner
        self.execution_id = inner.execution_id
        self.at = at
        self.store = store
        self.crashed = False
        self.on_crash: Callable[[], Any] = lambda: None

    def append_many(self, events: Sequence[EventSpec]) -> list[Event]:
        if self.crashed:
            raise Crash("the process is already dead")
        stored = self.inner.read()
        first = (stored[-1].seq if stored else 0) + 1
        if first <= self.at < first + len(events):
            self.crashed = True
            if self.store:
                self.inner.append_many(events)
            self.on_crash()
            raise Crash(f"killed at event {self.at}")
        return self.inner.append_many(events)

    def read(self, after_seq: int = 0) -> list[Event]:
        return self.inner.read(after_seq)

    def close(self) -> None:
        self.inner.close()


def quiet_crashes(loop: asyncio.AbstractEventLoop) -> None:
    """Drop the loop's "exception never retrieved" reports of branches that died with a `Crash`
    (the scheduler hears of them through its queue, not by retrieving them)."""
    previous = loop.get_exception_handler()
    if getattr(previous, "quiet_crashes", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), Crash):
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    handler.quiet_crashes = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


async def run_crashing(
    engine: Engine, flow: Flow, journal: Journal, inputs: Mapping[str, Any], hang_s: float = HANG_S
) -> ExecutionResult | None:
    """Run `flow`; None when the journal crashed (the process died) before the run ended."""
    quiet_crashes(asyncio.get_running_loop())
    task = asyncio.create_task(engine.run(flow, inputs, journal=journal))
    if isinstance(journal, CrashingJournal):
        journal.on_crash = task.cancel
    try:
        async with asyncio.timeout(hang_s):
            return await task
    except (Crash, asyncio.CancelledError):
        if isinstance(journal, CrashingJournal) and journal.crashed:
            return None
        raise


def durable_copy(events: Iterable[Event]) -> list[Event]:
    """The events as a fresh process reads them back: a JSON round trip, no shared objects."""
    return [Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in events]


async def run_until(
    engine: Engine,
    flow: Flow,
    journal: Journal,
    until: Callable[[], bool],
    inputs: Mapping[str, Any] | None = None,
    within: float = HANG_S,
) -> None:
    """Run `flow` in a task and cancel that task from outside as soon as `until()` holds."""
    task = asyncio.create_task(engine.run(flow, inputs, journal=journal))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not until():
        if task.done():
            raise AssertionError(f"the run ended before the crash point: {task.result()}")
        if loop.time() > deadline:
            task.cancel()
            raise AssertionError("the crash point was never reached")
        await asyncio.sleep(0.001)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return
    raise AssertionError("the engine swallowed the cancellation of its task")


# -- the counting step --------------------------------------------------------------------------


@dataclass
class Recorder:
    """Invocations of `test.count` steps, by idempotency key, and which ones to hold open."""

    calls: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    hold: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)

    def attempts(self, path: str, execution_id: str = EXECUTION_ID) -> list[int]:
        """The attempt numbers `path` was invoked with, in order."""
        return list(self.calls.get(f"{execution_id}/{path}", []))

    def snapshot(self) -> dict[str, int]:
        """How many times each key was invoked so far."""
        return {key: len(attempts) for key, attempts in self.calls.items()}


class CountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = None
    fail: bool = False
    fail_attempts: int = 0


def make_registry(recorder: Recorder) -> StepRegistry:
    """The built-in steps plus `test.count`, which records its invocations in `recorder`."""

    @step("test.count", params=CountParams)
    async def count(params: CountParams) -> Any:
        """Return `value`; fail for good (`fail`) or on the first `fail_attempts` attempts."""
        ctx = context()
        recorder.calls[ctx.idempotency_key].append(ctx.attempt)
        if ctx.path in recorder.hold:
            recorder.held.add(ctx.path)
            await asyncio.Event().wait()  # until the host kills the execution
        if params.fail:
            raise BusinessError("boom")
        if ctx.attempt <= params.fail_attempts:
            raise StepError("flaky", kind="flaky", retryable=True)
        return params.value

    return StepRegistry([*BUILTIN_STEPS, count])


# -- reading journals ---------------------------------------------------------------------------


def finished_paths(events: Iterable[Event]) -> set[str]:
    """Node instances with a terminal event: replayed on resume, never run again."""
    done: set[str] = set()
    for e in events:
        if e.path and (e.type in TERMINAL or (e.type == "node.failed" and not e.data.get("will_retry"))):
            done.add(e.path)
    return done


def interrupted_paths(events: Iterable[Event]) -> set[str]:
    """Node instances started (or waiting for a retry) without a terminal event."""
    events = list(events)
    begun = {e.path for e in events if e.type in ("node.started", "node.failed")}
    return begun - finished_paths(events)


def count_events(events: Iterable[Event], kind: str) -> Counter[str]:
    """How many events of `kind` each path has."""
    return Counter(e.path for e in events if e.type == kind)


def assert_gapless(events: Sequence[Event]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def assert_well_formed(events: Sequence[Event]) -> None:
    """Seq 1..N; each node instance succeeded at most once, each loop iteration started and
    finished at most once; one `execution.finished`, last."""
    assert_gapless(events)
    twice = {p: n for p, n in count_events(events, "node.succeeded").items() if n > 1}
    assert not twice, f"node instances that succeeded more than once: {twice}"
    for kind in ("iteration.started", "iteration.finished"):
        iterations = Counter((e.path, e.data["index"]) for e in events if e.type == kind)
        repeated = {it: n for it, n in iterations.items() if n > 1}
        assert not repeated, f"{kind} more than once: {repeated}"
    assert [e.type for e in events].count("execution.finished") == 1
    assert events[-1].type == "execution.finished"


def outcome(result: ExecutionResult) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """What must not depend on crashes: status, outputs and error (JSON form)."""
    status, outputs, error = json.loads(json.dumps([result.status, result.outputs, result.error]))
    return status, outputs, error


# -- the crash/resume checker -------------------------------------------------------------------


@dataclass
class Scenario:
    """A flow and how to run it."""

    document: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    subflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine_options: dict[str, Any] = field(default_factory=dict)
    hang_s: float = HANG_S
    flows_dir: Path | None = None
    """Where `flow.call` finds sub-flow files (a `FileFlowLoader`); else `subflows` by name."""

    def setup(self, recorder: Recorder) -> tuple[Engine, Flow]:
        """A fresh engine (a new "process") whose steps record into `recorder`, and the flow."""
        registry = make_registry(recorder)
        loader: FlowLoader
        if self.flows_dir is not None:
            loader = FileFlowLoader(self.flows_dir, registry)
        else:
            loader = DictFlowLoader({k: load_flow(v, registry=registry) for k, v in self.subflows.items()})
        engine = Engine(registry, loader=loader, **self.engine_options)
        return engine, load_flow(self.document, registry=registry)


class DictFlowLoader:
    """Sub-flows by name, from memory."""

    def __init__(self, flows: Mapping[str, Flow]) -> None:
        self.flows = dict(flows)

    def load(self, reference: str, caller: Flow) -> Flow:
        return self.flows[reference]


async def reference_run(scenario: Scenario) -> tuple[ExecutionResult, list[Event]]:
    """The uninterrupted run: its result and journal."""
    engine, flow = scenario.setup(Recorder())
    journal = MemoryJournal(EXECUTION_ID)
    async with asyncio.timeout(scenario.hang_s):
        result = await engine.run(flow, scenario.inputs, journal=journal)
    return result, journal.read()


CrashPlan = Callable[[int], tuple[int, bool] | None]
"""Given how many events are stored, the next crash `(event number, store)`, or None to finish."""


def crash_list(crashes: Sequence[tuple[int, bool]]) -> CrashPlan:
    """A plan that crashes at each of `crashes` in turn."""
    pending = list(crashes)
    return lambda _stored: pending.pop(0) if pending else None


async def crash_and_resume(
    scenario: Scenario,
    plan: CrashPlan,
    reference: tuple[ExecutionResult, list[Event]],
) -> list[Event]:
    """Run with the crashes `plan` draws, then resume to the end.

    Each run (the crashing ones and the last) uses a fresh `Engine` on a durable copy of the
    journal so far. Checks that no finished node instance runs again, that the interrupted
    ones run again under the same idempotency key, and that the result and the set of node
    instances that succeeded / were skipped match the uninterrupted run.

    Returns:
        The final journal.
    """
    expected, reference_events = reference
    recorder = Recorder()
    events: list[Event] = []
    result: ExecutionResult | None = None
    for _ in range(10):
        crash = plan(len(events))
        finished, interrupted = finished_paths(events), interrupted_paths(events)
        before = recorder.snapshot()
        engine, flow = scenario.setup(recorder)
        inner = MemoryJournal(EXECUTION_ID, durable_copy(events))
        journal: Journal = inner if crash is None else CrashingJournal(inner, crash[0], store=crash[1])
        result = await run_crashing(engine, flow, journal, scenario.inputs, scenario.hang_s)
        new_events = inner.read()[len(events) :]
        assert_gapless(inner.read())
        # A finished node instance is replayed: never started, never invoked again.
        restarted = {e.path for e in new_events if e.type == "node.started"} & finished
        assert not restarted, f"finished node instances ran again: {sorted(restarted)}"
        invoked = {key for key, n in recorder.snapshot().items() if n > before.get(key, 0)}
        again = {key for key in invoked if key.removeprefix(EXECUTION_ID + "/") in finished}
        assert not again, f"finished node instances were invoked again: {sorted(again)}"
        events = inner.read()
        if result is not None:
            # The run went to the end: every interrupted leaf ran again, with the same key.
            leaves = {e.path for e in events if e.type == "node.started" and e.data["type"] == "test.count"}
            for path in interrupted & leaves:
                assert f"{EXECUTION_ID}/{path}" in invoked, f"{path} was interrupted and never ran again"
            break
    assert result is not None, "the last run crashed"
    assert outcome(result) == outcome(expected)
    assert_well_formed(events)
    for kind in ("node.succeeded", "node.skipped"):
        assert set(count_events(events, kind)) == set(count_events(reference_events, kind)), kind
    # A failure journaled before a crash is not suffered again: it counts toward max_attempts.
    failed, expected_failed = count_events(events, "node.failed"), count_events(reference_events, "node.failed")
    more = {p: (n, expected_failed[p]) for p, n in failed.items() if n > expected_failed[p]}
    assert not more, f"node instances that failed more often than without a crash: {more}"
    for key, attempts in recorder.calls.items():
        assert attempts == sorted(set(attempts)), f"{key} reused an attempt number: {attempts}"
    return events


async def check_every_crash_point(scenario: Scenario) -> int:
    """`crash_and_resume` at every event of the uninterrupted run, before and after storing it.

    Returns:
        How many crash points were checked.
    """
    reference = await reference_run(scenario)
    total = len(reference[1])
    for at in range(1, total):
        for store in (False, True):
            await crash_and_resume(scenario, crash_list([(at, store)]), reference)
    return 2 * (total - 1)


# -- flow documents -----------------------------------------------------------------------------


def flow_doc(
    nodes: list[dict[str, Any]],
    edges: Sequence[tuple[str, str] | tuple[str, str, str]] = (),
    outputs: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A flow document; edges as (from, to) or (from, port, to)."""
    return {
        "schema": "rpa.flow/1",
        "name": extra.pop("name", "durability"),
        "nodes": nodes,
        "edges": [graph_edge(e) for e in edges],
        "outputs": outputs or {},
        **extra,
    }


def graph_edge(edge: tuple[str, str] | tuple[str, str, str]) -> dict[str, str]:
    if len(edge) == 2:
        return {"from": edge[0], "to": edge[1]}
    return {"from": edge[0], "port": edge[1], "to": edge[2]}


def count(node_id: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    """A `test.count` node (value defaults to its id)."""
    params = {"value": node_id if value is None else value}
    for name in ("fail", "fail_attempts"):
        if name in extra:
            params[name] = extra.pop(name)
    return {"id": node_id, "type": "test.count", "params": params, **extra}


# -- random flows -------------------------------------------------------------------------------


@dataclass
class Block:
    """A piece of graph: its nodes and edges, where it starts and where it ends."""

    nodes: list[dict[str, Any]]
    edges: list[dict[str, str]]
    entries: list[str]
    exits: list[str]


@dataclass
class Context:
    """What a generated block may do where it is placed."""

    writes_ok: bool = True  # no enclosing concurrent loop: variable writes are ordered
    in_loop: bool = False  # `index` is in scope
    allow_call: bool = True
    variables: dict[str, Any] = field(default_factory=dict)  # the document's; shared by `but()` copies

    def but(self, **changes: Any) -> Context:
        return Context(**{**self.__dict__, **changes})


@dataclass
class Limits:
    """Knobs of the generator (the property test narrows them when it must)."""

    parallel: bool = True  # `par` blocks: branches that run at the same time
    try_in_loops: bool = True
    max_depth: int = 3


def _seq(blocks: list[Block]) -> Block:
    nodes, edges = [n for b in blocks for n in b.nodes], [e for b in blocks for e in b.edges]
    for a, b in itertools.pairwise(blocks):
        edges += [{"from": x, "to": y} for x in a.exits for y in b.entries]
    return Block(nodes, edges, blocks[0].entries, blocks[-1].exits)


def _par(blocks: list[Block]) -> Block:
    return Block(
        [n for b in blocks for n in b.nodes],
        [e for b in blocks for e in b.edges],
        [x for b in blocks for x in b.entries],
        [x for b in blocks for x in b.exits],
    )


def _leaf(node: dict[str, Any]) -> Block:
    return Block([node], [], [node["id"]], [node["id"]])


def _graph(block: Block) -> dict[str, Any]:
    return {"nodes": block.nodes, "edges": block.edges}


class FlowBuilder:
    """Draws blocks; names nodes and variables uniquely within one document."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], limits: Limits) -> None:
        self.draw = draw
        self.limits = limits
        self.counter = 0
        self.subflows: dict[str, dict[str, Any]] = {}

    def name(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}{self.counter}"

    def value(self, node_id: str, ctx: Context) -> Any:
        return f"{{{{ ['{node_id}', index] }}}}" if ctx.in_loop else node_id

    def block(self, ctx: Context, depth: int) -> Block:
        kinds = ["leaf", "leaf", "flaky"]
        if ctx.writes_ok:
            kinds += ["set_variable", "leaf_set"]
        if depth > 0:  # mostly containers, so that flows grow
            kinds += ["seq", "seq", "seq", "if", "if", "switch", "foreach", "foreach", "foreach"]
            if self.limits.parallel:
                kinds += ["par", "par", "par"]
            if self.limits.try_in_loops or not ctx.in_loop:
                kinds += ["try", "try"]
            if ctx.writes_ok:
                kinds += ["while", "while"]
            if ctx.allow_call:
                kinds += ["call"]
        kind = self.draw(st.sampled_from(kinds))
        build: Callable[[Context, int], Block] = getattr(self, f"_{kind}")
        return build(ctx, depth)

    def _leaf(self, ctx: Context, depth: int) -> Block:
        node_id = self.name("s")
        return _leaf(count(node_id, self.value(node_id, ctx)))

    def _flaky(self, ctx: Context, depth: int) -> Block:
        node_id = self.name("r")
        return _leaf(
            count(node_id, self.value(node_id, ctx), fail_attempts=1, retry={"max_attempts": 2, "backoff_s": 0})
        )

    def _leaf_set(self, ctx: Context, depth: int) -> Block:
        node_id, var = self.name("s"), self.name("v")
        ctx.variables[var] = None
        return _leaf(count(node_id, self.value(node_id, ctx), set={var: "{{ output }}"}))

    def _set_variable(self, ctx: Context, depth: int) -> Block:
        node_id, var = self.name("set"), self.name("v")
        ctx.variables[var] = None
        value = "{{ index * 10 }}" if ctx.in_loop else self.draw(st.integers(0, 9))
        return _leaf({"id": node_id, "type": "data.set_variable", "params": {"name": var, "value": value}})

    def _parts(self, ctx: Context, depth: int, low: int, high: int) -> list[Block]:
        return [self.block(ctx, depth - 1) for _ in range(self.draw(st.integers(low, high)))]

    def _seq(self, ctx: Context, depth: int) -> Block:
        return _seq(self._parts(ctx, depth, 2, 3))

    def _par(self, ctx: Context, depth: int) -> Block:
        return _par(self._parts(ctx, depth, 2, 3))

    def _route(self, router: dict[str, Any], branches: dict[str, Block]) -> Block:
        block = _par(list(branches.values()))
        edges = [
            {"from": router["id"], "port": port, "to": entry}
            for port, branch in branches.items()
            for entry in branch.entries
        ]
        return Block([router, *block.nodes], edges + block.edges, [router["id"]], block.exits)

    def _if(self, ctx: Context, depth: int) -> Block:
        threshold = self.draw(st.integers(0, 9))
        condition = f"{{{{ inputs.n > {threshold} }}}}"
        router = {"id": self.name("if"), "type": "control.if", "params": {"condition": condition}}
        return self._route(router, {port: self.block(ctx, depth - 1) for port in ("true", "false")})

    def _switch(self, ctx: Context, depth: int) -> Block:
        router = {
            "id": self.name("sw"),
            "type": "control.switch",
            "params": {"value": "{{ inputs.n % 3 }}", "cases": ["0", "1"]},
        }
        return self._route(router, {port: self.block(ctx, depth - 1) for port in ("0", "1", "default")})

    def _foreach(self, ctx: Context, depth: int) -> Block:
        concurrency = self.draw(st.sampled_from([1, 1, 2, 3]))
        items = self.draw(st.sampled_from([2, 3, ["x", "y"], []]))
        body_ctx = ctx.but(in_loop=True, writes_ok=ctx.writes_ok and concurrency == 1)
        body = self.block(body_ctx, depth - 1)
        node = {
            "id": self.name("each"),
            "type": "control.foreach",
            "params": {"items": items, "concurrency": concurrency},
            "body": _graph(body),
        }
        return _leaf(node)

    def _while(self, ctx: Context, depth: int) -> Block:
        var, limit = self.name("w"), self.draw(st.integers(0, 3))
        ctx.variables[var] = 0
        init = {"id": self.name("init"), "type": "data.set_variable", "params": {"name": var, "value": 0}}
        inc = {
            "id": self.name("inc"),
            "type": "data.set_variable",
            "params": {"name": var, "value": f"{{{{ vars.{var} + 1 }}}}"},
        }
        body_ctx = ctx.but(in_loop=True)
        body = _seq([_leaf(inc), self.block(body_ctx, depth - 1)])
        loop = {
            "id": self.name("while"),
            "type": "control.while",
            "params": {"condition": f"{{{{ vars.{var} < {limit} }}}}", "max_iterations": 10},
            "body": _graph(body),
        }
        return _seq([_leaf(init), _leaf(loop)])

    def _try(self, ctx: Context, depth: int) -> Block:
        parts = [self.block(ctx, depth - 1)]
        failure = self.draw(st.sampled_from(["none", "business", "retries"]))
        if failure == "business":
            parts.append(_leaf(count(self.name("fail"), fail=True)))
        elif failure == "retries":
            parts.append(
                _leaf(
                    count(
                        self.name("fail"),
                        fail_attempts=99,
                        retry={"max_attempts": self.draw(st.integers(2, 3)), "backoff_s": 0},
                    )
                )
            )
        catch_id = self.name("c")
        catch = _seq([_leaf(count(catch_id, f"{{{{ ['{catch_id}', error.message] }}}}")), self.block(ctx, depth - 1)])
        node: dict[str, Any] = {
            "id": self.name("try"),
            "type": "control.try",
            "body": _graph(_seq(parts)),
            "catch": _graph(catch),
        }
        if self.draw(st.booleans()):
            node["finally"] = _graph(self.block(ctx, 0))
        return _leaf(node)

    def _call(self, ctx: Context, depth: int) -> Block:
        if "sub" not in self.subflows:  # drawn once, called from wherever a call is drawn
            sub_ctx = Context(allow_call=False)
            sub = FlowBuilder(self.draw, self.limits).block(sub_ctx, self.draw(st.integers(1, 2)))
            self.subflows["sub"] = flow_doc(
                sub.nodes,
                outputs=top_outputs(sub.nodes, sub_ctx.variables),
                name="sub",
                inputs={"n": {"type": "integer", "required": True}},
                variables=sub_ctx.variables,
            ) | {"edges": sub.edges}
        node = {
            "id": self.name("call"),
            "type": "flow.call",
            "params": {"flow": "sub", "inputs": {"n": "{{ inputs.n }}"}},
        }
        return _leaf(node)


def top_outputs(nodes: Iterable[dict[str, Any]], variables: Iterable[str]) -> dict[str, str]:
    """Every top-level node's output and status, and every variable."""
    outputs: dict[str, str] = {}
    for node in nodes:
        outputs[f"{node['id']}_out"] = f"{{{{ steps.{node['id']}.output }}}}"
        outputs[f"{node['id']}_status"] = f"{{{{ steps.{node['id']}.status }}}}"
    for var in variables:
        outputs[f"var_{var}"] = f"{{{{ vars.{var} }}}}"
    return outputs


@st.composite
def scenarios(draw: Callable[[st.SearchStrategy[Any]], Any], limits: Limits | None = None) -> Scenario:
    """A random flow of counting steps and every control construct, maybe with a sub-flow."""
    limits = limits or Limits()
    builder = FlowBuilder(draw, limits)
    ctx = Context()
    parts = [builder.block(ctx, draw(st.integers(1, limits.max_depth))) for _ in range(draw(st.integers(2, 4)))]
    if draw(st.integers(0, 7)) == 7:  # an unhandled failure: the execution fails
        parts.append(_leaf(count(builder.name("fatal"), fail=True)))
    top = _seq(parts)
    document = flow_doc(
        top.nodes,
        outputs=top_outputs(top.nodes, ctx.variables),
        inputs={"n": {"type": "integer", "required": True}},
        variables=ctx.variables,
    )
    document["edges"] = top.edges
    return Scenario(document, {"n": draw(st.integers(0, 9))}, builder.subflows)
