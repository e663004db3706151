"""One execution of one flow: graph scheduling, leaf steps, error policies, journaling.

Scheduling is dead-path elimination over a DAG. Each incoming edge of a node resolves once its
source has finished: *active* when the source emitted on the edge's port, *dead* otherwise (a
branch not taken, a skipped node). A node runs when all its incoming edges resolved and at
least one is active; when all are dead it is skipped, which resolves its own edges as dead.
So a join never waits for a branch that was not taken.

Resume is a replay: node instances the journal says are finished are replayed (their recorded
output and port) before any live node starts, so a recorded failure unwinds exactly as it did;
everything else runs live. Nothing here knows about the network or a database: the journal,
the step registry, the flow loader and the secrets resolver are given.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from shared.engine import _events as ev
from shared.engine._frames import Frame, NodeFailed, Runtime, StepsView
from shared.engine._journal import EventSpec, Journal
from shared.engine._restart import RESTART_POINT, RestartFrom, Rewind, forget_rerun, rerun_ids
from shared.engine._retry import retry_delay
from shared.engine._state import ExecutionState, NodeResult
from shared.errors import StepError, StepTimeout
from shared.expressions import ExpressionError, SecretMasker, SecretsNamespace, compile_value
from shared.flow import Graph, Node
from shared.flow._params import keep_params, kept_params
from shared.steps import Output, Route, StepContext, StepDefinition, StepRegistry
from shared.steps._api import ExecutionResources, _reset_context, _set_context

if TYPE_CHECKING:
    from shared.engine._engine import FlowLoader
    from shared.engine._hooks import ExecutionHooks

LogCallback = Callable[[str, str, str, str], None]
"""(execution_id, path, level, message)."""

_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _named_lock(name: str) -> asyncio.Lock:
    """A lock shared by every execution on this event loop (e.g. `desktop`)."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(name)
    if lock is None:
        lock = locks[name] = asyncio.Lock()
    return lock


_encode = json.JSONEncoder(default=str, ensure_ascii=False, check_circular=False).encode
"""`json.dumps(value, default=str, ensure_ascii=False)` without building an encoder per call, nor
a table of the containers seen (a cycle ends in RecursionError instead of ValueError)."""


@dataclass(slots=True)
class _Plan:
    """The static shape of a graph, computed once per graph."""

    nodes: dict[str, Node]
    indegree: dict[str, int]
    outgoing: dict[str, list[tuple[str, str]]]
    roots: list[str]


def _plan(graph: Graph) -> _Plan:
    nodes = {n.id: n for n in graph.nodes}
    indegree = dict.fromkeys(nodes, 0)
    outgoing: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
    for edge in graph.edges:
        indegree[edge.to] += 1
        outgoing[edge.source].append((edge.port, edge.to))
    return _Plan(nodes, indegree, outgoing, [n for n, d in indegree.items() if d == 0])


@dataclass
class ExecutionOptions:
    """What the engine hands to each execution."""

    registry: StepRegistry
    loader: FlowLoader | None
    secrets: Callable[[str], str | None] | None
    artifacts_root: Path
    env: Mapping[str, str]
    on_log: LogCallback | None
    executor: Executor | None
    max_inline_output: int
    max_call_depth: int = 16
    flow_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Execution:
    """The interpreter of one execution (a fresh run, or a resume of a journal)."""

    def __init__(
        self,
        options: ExecutionOptions,
        journal: Journal,
        state: ExecutionState,
        execution_id: str,
        max_parallel: int,
    ) -> None:
        self.options = options
        self.registry = options.registry
        self.journal = journal
        self.state = state
        self.execution_id = execution_id
        self.masker = SecretMasker()
        self.secrets = SecretsNamespace(options.secrets or (lambda _name: None), self.masker)
        self.max_parallel = max_parallel
        self.slots = asyncio.Semaphore(max_parallel)
        self.cancelled = False
        self.resources = ExecutionResources()
        self._step_events: set[threading.Event] = set()
        self.hooks: ExecutionHooks | None = None
        """Debug hooks around each node (`shared.engine._hooks`); None costs one test per node."""
        self.info: dict[str, Any] = {"id": execution_id}
        self._plans: dict[int, _Plan] = {}
        self._graphs: dict[str, _Plan] = {}
        """The graph instances being run, by path prefix (where a restart looks for its nodes)."""
        self._restarted: set[str] = set()
        """Scopes restarted in this run (`_restart.py`: once per scope per run)."""
        self._compiled: dict[Hashable, Callable[[Mapping[str, Any]], Any]] = {}
        self._async_stop = threading.Event()
        """The cancel event every async step shares: only `cancel` sets it (a thread gets its own)."""

    # -- journaling -------------------------------------------------------------------------

    def emit(self, *events: EventSpec) -> None:
        """Mask and append events as one atomic batch."""
        mask = self.masker.mask
        self.journal.append_many([(kind, path, mask(data)) for kind, path, data in events])

    def store_output(self, path: str, output: Any) -> Any:
        """The journal form of an output: itself, or an artifact reference when it is large."""
        if output is None or isinstance(output, bool | int | float):
            return output
        if isinstance(output, str) and len(output) <= self.options.max_inline_output // 4:
            return output
        try:
            text = _encode(output)
        except (TypeError, ValueError, RecursionError):  # RecursionError: a cycle (see _encode)
            return repr(output)
        if len(text) <= self.options.max_inline_output:
            return output
        folder = self.options.artifacts_root / self.execution_id / "outputs"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{quote(path, safe='') or 'execution'}.json"
        target.write_text(str(self.masker.mask(text)), encoding="utf-8")
        return {ev.ARTIFACT_REF: str(target.relative_to(self.options.artifacts_root)), "size": len(text)}

    # -- expressions ------------------------------------------------------------------------

    def scope(self, frame: Frame) -> dict[str, Any]:
        """Names visible to expressions in `frame`."""
        rt = frame.runtime
        scope = {
            "inputs": rt.inputs,
            "vars": rt.variables,
            "steps": StepsView(frame),
            "execution": self.info,
            "env": self.options.env,
            "secrets": self.secrets,
        }
        scope.update(frame.bindings)
        return scope

    def render(self, key: Hashable, value: Any, frame: Frame, *, extra: Mapping[str, Any] | None = None) -> Any:
        """Render `value` in `frame`'s scope, compiling it once per `key`.

        `key` names where the value lives in the flow (e.g. `(id(node), "params")`); flows are
        kept for the whole execution, so the ids stay valid.
        """
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = compile_value(value)
        scope = self.scope(frame)
        if extra:
            scope.update(extra)
        return compiled(scope)

    # -- graphs -----------------------------------------------------------------------------

    async def run_graph(self, graph: Graph, prefix: str, frame: Frame) -> None:
        """Run every node of `graph` (instance `prefix`) to completion; again from the recorded
        results when a step of it restarts (`_restart.py`).

        Raises:
            NodeFailed: the first node that failed with policy `fail`; the others are cancelled.
        """
        plan = self._plans.get(id(graph))
        if plan is None:
            plan = self._plans[id(graph)] = _plan(graph)
        self._graphs[prefix] = plan
        try:
            while True:
                try:
                    return await self._schedule(plan, prefix, frame)
                except Rewind as rewind:
                    if rewind.prefix != prefix:
                        raise
        finally:
            self._graphs.pop(prefix, None)

    async def _schedule(self, plan: _Plan, prefix: str, frame: Frame) -> None:  # noqa: C901
        pending = dict(plan.indegree)
        active = dict.fromkeys(plan.nodes, 0)
        ready: deque[str] = deque(plan.roots)
        done: asyncio.Queue[tuple[str, str | None, BaseException | None]] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        def resolve(node_id: str, port: str | None) -> None:
            for edge_port, target in plan.outgoing[node_id]:
                if port is not None and edge_port == port:
                    active[target] += 1
                pending[target] -= 1
                if pending[target] == 0:
                    ready.append(target)

        def settle_recorded() -> None:
            # Replayed and skipped nodes settle at once, before any live node starts, so a
            # recorded failure unwinds before a sibling could run again.
            progressed = True
            while progressed:
                progressed = False
                for node_id in list(ready):
                    path = prefix + node_id
                    if path in self.state.results:
                        ready.remove(node_id)
                        resolve(node_id, self.replay(plan.nodes[node_id], path, frame))
                        progressed = True
                    elif plan.indegree[node_id] and not active[node_id]:
                        ready.remove(node_id)
                        self.skip(plan.nodes[node_id], path, frame)
                        resolve(node_id, None)
                        progressed = True

        async def run_reporting(node_id: str) -> None:
            # Leave the running set before reporting: the scheduler reads "nothing running and
            # nothing reported" as the end of the graph.
            try:
                port = await self.run_node(plan.nodes[node_id], prefix + node_id, frame)
            except BaseException as exc:  # reported to the scheduler, which decides
                tasks.discard(asyncio.current_task())
                done.put_nowait((node_id, None, exc))
                if not isinstance(exc, Exception):
                    raise
            else:
                tasks.discard(asyncio.current_task())
                done.put_nowait((node_id, port, None))

        try:
            while True:
                settle_recorded()
                if len(ready) == 1 and not tasks:
                    node_id = ready.popleft()
                    resolve(node_id, await self.run_node(plan.nodes[node_id], prefix + node_id, frame))
                    continue
                while ready:
                    tasks.add(asyncio.create_task(run_reporting(ready.popleft())))
                if not tasks and done.empty():
                    break
                node_id, port, exc = await done.get()
                if exc is not None:
                    # Fail fast: the finally block cancels and awaits the siblings (a task
                    # cancelled before it started never reports, so do not wait for reports).
                    raise exc
                resolve(node_id, port)
        finally:
            if tasks:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def skip(self, node: Node, path: str, frame: Frame) -> None:
        """A node on a path not taken."""
        result = NodeResult("skipped", None, None)
        frame.results[node.id] = result
        self.state.results[path] = result
        self.emit((ev.NODE_SKIPPED, path, {"reason": "branch"}))

    def pass_through(self, node: Node, path: str, frame: Frame) -> str:
        """A disabled node: skipped, but its successors run as if it had succeeded."""
        result = NodeResult("skipped", None, "out")
        frame.results[node.id] = result
        self.state.results[path] = result
        self.emit((ev.NODE_SKIPPED, path, {"reason": "disabled", "port": "out"}))
        return "out"

    def replay(self, node: Node, path: str, frame: Frame) -> str | None:
        """Settle a node instance from its recorded result; raise if it failed for good."""
        result = self.state.results[path]
        frame.results[node.id] = result
        if node.type == "control.try":
            self._restore_try_scope(node, path, frame)
        if result.status == "failed":
            if result.port is None:
                raise NodeFailed(path, result.error or {"message": "failed"})
            if result.port == "error":
                frame.bindings["error"] = result.error
        return result.port

    def _restore_try_scope(self, node: Node, path: str, frame: Frame) -> None:
        # A try's bodies share the enclosing scope (see _containers._same_scope); a replayed try
        # must bring back what they produced, as the live run did.
        for graph in node.graphs().values():
            for child in graph.nodes:
                child_path = f"{path}/{child.id}"
                recorded = self.state.results.get(child_path)
                if recorded is not None:
                    frame.results[child.id] = recorded
                    if child.type == "control.try":
                        self._restore_try_scope(child, child_path, frame)

    async def run_node(self, node: Node, path: str, frame: Frame) -> str | None:
        """Run one node instance live (between the debug hooks, if any); return its port."""
        if self.hooks is None:
            return await self.run_node_live(node, path, frame)
        from shared.engine._hooks import run_hooked

        return await run_hooked(self, self.hooks, node, path, frame)

    async def run_node_live(self, node: Node, path: str, frame: Frame) -> str | None:
        """Run one node instance live; return the port it emitted on."""
        if node.disabled:
            return self.pass_through(node, path, frame)
        definition = self.registry.get(node.type)
        if definition.kind in ("container", "subflow"):
            from shared.engine._containers import run_container

            return await run_container(self, node, definition, path, frame)
        return await self._run_step(node, definition, path, frame)

    # -- leaf steps -------------------------------------------------------------------------

    async def _run_step(self, node: Node, definition: StepDefinition, path: str, frame: Frame) -> str | None:
        policy = node.retry
        max_attempts = policy.max_attempts if policy is not None else 1
        attempt = self.state.attempts.get(path, 0)
        failures = self.state.failures.get(path, 0)
        while True:
            attempt += 1
            try:
                async with self.slots:
                    if definition.lock is None:
                        result = await self._attempt(node, definition, path, frame, attempt)
                    else:
                        async with _named_lock(definition.lock):
                            result = await self._attempt(node, definition, path, frame, attempt)
            except RestartFrom as signal:
                if self._restart(node, path, frame, signal):
                    raise Rewind(path[: len(path) - len(node.id)]) from None
                return self.handle_failure(node, path, frame, self.error_dict(signal, node, path), attempt)
            except StepError as err:
                failures += 1
                error = self.error_dict(err, node, path)
                if (
                    err.retryable
                    and failures < max_attempts
                    and (policy is None or policy.on is None or err.kind in policy.on)
                ):
                    assert policy is not None
                    delay = retry_delay(policy, node, failures + 1, err)
                    data = {"attempt": attempt, "error": error, "will_retry": True, "retry_in_s": delay}
                    self.emit((ev.NODE_FAILED, path, data))
                    await asyncio.sleep(delay)
                    continue
                return self.handle_failure(node, path, frame, error, attempt)
            return self.succeed(node, path, frame, result, attempt)

    def _restart(self, node: Node, path: str, frame: Frame, signal: RestartFrom) -> bool:
        """Honour a step's `RestartFrom` when its scope's restart point is in the same graph and
        it was not honoured yet in this run: journal what runs again and forget its results."""
        point = self.state.restart_points.get(signal.scope)
        prefix = path[: len(path) - len(node.id)]
        plan = self._graphs.get(prefix)
        if point is None or signal.scope in self._restarted or plan is None or not point.startswith(prefix):
            return False
        start = point[len(prefix) :]
        if start not in plan.nodes:
            return False
        ids = rerun_ids(plan.outgoing, start, node.id)
        rerun = [prefix + node_id for node_id in ids]
        self._restarted.add(signal.scope)
        self.emit(
            (ev.NODE_RESTARTED, path, {"scope": signal.scope, "from": point, "rerun": rerun, "reason": signal.message})
        )
        forget_rerun([self.state.results, self.state.failures], rerun)
        for node_id in ids:
            frame.results.pop(node_id, None)
        return True

    def cancel(self) -> None:
        """Tell every running step to stop (`context().is_cancelled()` turns true)."""
        self.cancelled = True
        self._async_stop.set()
        for event in list(self._step_events):
            event.set()

    async def _attempt(self, node: Node, definition: StepDefinition, path: str, frame: Frame, attempt: int) -> Any:
        key = f"{self.execution_id}/{path}"
        self.emit((ev.NODE_STARTED, path, {"attempt": attempt, "type": node.type, "key": key}))
        self.state.attempts[path] = attempt
        params = self.params(node, definition, frame)
        if definition.is_async:
            # Nothing but `cancel` sets an async step's event: one per execution will do.
            stop = self._async_stop
        else:
            stop = threading.Event()
            if self.cancelled:
                stop.set()
        ctx = StepContext(
            execution_id=self.execution_id,
            path=path,
            step_type=node.type,
            attempt=attempt,
            artifacts_root=self.options.artifacts_root,
            mask=self.masker.mask,
            log_sink=self._log_sink,
            cancel_event=stop,
            pause_gate=getattr(self.hooks, "step_gate", None),  # an attended run's pause, inside steps
            secrets=self.secrets.get,
            secret_sink=self.masker.add,
            resources=self.resources,
            note_sink=self._note_sink,
            flow_dir=frame.runtime.flow_dir,
        )
        assert definition.fn is not None
        token = _set_context(ctx)
        try:
            if definition.is_async:
                return await self._bounded(definition.fn(params), node.timeout_s)
            self._step_events.add(stop)
            thread = asyncio.get_running_loop().run_in_executor(
                self.options.executor, contextvars.copy_context().run, definition.fn, params
            )
            try:
                return await self._bounded(asyncio.shield(thread), node.timeout_s)
            except BaseException:
                # The thread cannot be killed: ask it to stop, and keep the step's lock (the
                # mouse, the keyboard) until it has really stopped.
                stop.set()
                if definition.lock is not None:
                    await asyncio.wait([thread])
                raise
        except StepError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the last boundary: a step family let a foreign error through
            raise StepError(f"{type(exc).__name__}: {self.masker.mask_text(str(exc))}", kind="internal") from exc
        finally:
            self._step_events.discard(stop)
            _reset_context(token)

    @staticmethod
    async def _bounded(call: Awaitable[Any], timeout_s: float | None) -> Any:
        if timeout_s is None:
            return await call
        try:
            async with asyncio.timeout(timeout_s):
                return await call
        except TimeoutError:
            raise StepTimeout(f"the step did not finish within {timeout_s:g} s") from None

    def params(self, node: Node, definition: StepDefinition, frame: Frame) -> Any:
        """Render and validate a node's params; a problem is a non-retryable StepError.

        Params without an expression render to themselves (`compile_value`), so they validate
        to the same model on every attempt, iteration and execution: that model is kept with
        the node (`shared.flow._params`; `load_flow` keeps the one its check built) and given
        to each of its instances (steps treat params as read-only). Only successes are kept;
        params with an expression are rendered and validated every time.
        """
        kept = kept_params(node, definition.params)
        if kept is not None:
            return kept
        try:
            raw = self.render((id(node), "params"), node.params, frame)
        except ExpressionError as err:
            raise StepError(f"params: {err.message}", kind="expression", retryable=False) from None
        try:
            model = definition.params.model_validate(raw)
        except ValidationError as err:
            problems = "; ".join(f"params.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
            raise StepError(f"invalid params: {problems}", kind="validation", retryable=False) from None
        if raw is node.params:  # no expression anywhere in them
            keep_params(node, definition.params, model)
        return model

    def succeed(self, node: Node, path: str, frame: Frame, result: Any, attempt: int) -> str:
        """Journal a success (with the variables it sets, atomically) and settle the node."""
        port = "out"
        variables: Mapping[str, Any] = {}
        if isinstance(result, Route):
            port, result = result.port, result.output
        elif isinstance(result, Output):
            variables, result = result.variables, result.value
        node_result = NodeResult("succeeded", result, port)
        frame.results[node.id] = node_result
        events: list[EventSpec] = []
        if node.set:
            try:
                assigned = self.render((id(node), "set"), node.set, frame, extra={"output": result})
            except ExpressionError as err:
                del frame.results[node.id]
                error = {"kind": "expression", "message": f"set: {err.message}", "node": path}
                return self.handle_failure(node, path, frame, error, attempt)
            variables = {**variables, **assigned}
        runtime = frame.runtime
        for name, value in variables.items():
            runtime.variables[name] = value
            events.append((ev.VARIABLE_SET, path, {"scope": runtime.scope, "name": name, "value": value}))
        if port != "out":
            events.append((ev.BRANCH_TAKEN, path, {"port": port}))
        events.append((ev.NODE_SUCCEEDED, path, {"output": self.store_output(path, result), "port": port}))
        self.emit(*events)
        self.state.results[path] = node_result
        return port

    def handle_failure(self, node: Node, path: str, frame: Frame, error: dict[str, Any], attempt: int) -> str:
        """Apply the node's `on_error` policy to a final failure."""
        policy = node.on_error
        if policy == "skip":
            result = NodeResult("skipped", None, "out", error)
            self.emit((ev.NODE_SKIPPED, path, {"reason": "error", "error": error, "port": "out"}))
        elif policy in ("continue", "fallback"):
            port = "out" if policy == "continue" else "error"
            result = NodeResult("failed", error, port, error)
            self.emit(
                (
                    ev.NODE_FAILED,
                    path,
                    {
                        "attempt": attempt,
                        "error": error,
                        "will_retry": False,
                        "handled": policy,
                        "output": error,
                        "port": port,
                    },
                )
            )
            if policy == "fallback":
                frame.bindings["error"] = error
        else:
            self.emit((ev.NODE_FAILED, path, {"attempt": attempt, "error": error, "will_retry": False}))
            self.state.results[path] = NodeResult("failed", None, None, error)
            frame.results[node.id] = self.state.results[path]
            raise NodeFailed(path, error)
        frame.results[node.id] = result
        self.state.results[path] = result
        return str(result.port)

    def error_dict(self, err: StepError, node: Node, path: str) -> dict[str, Any]:
        """The journal form of a step error, masked, naming the node."""
        error = err.to_dict()
        error["node"] = path
        error["type"] = node.type
        return dict(self.masker.mask(error))

    def _note_sink(self, path: str, kind: str, data: dict[str, Any]) -> None:
        self.emit((ev.NODE_NOTE, path, {**data, "kind": kind}))
        if kind == RESTART_POINT and isinstance(data.get("scope"), str):
            self.state.restart_points[data["scope"]] = path  # as `fold` reads it on a resume

    def _log_sink(self, path: str, level: str, message: str) -> None:
        if self.options.on_log is not None:
            self.options.on_log(self.execution_id, path, level, message)

    def runtime_for(
        self, flow: Any, scope: str, inputs: dict[str, Any], depth: int, flow_dir: Path | None = None
    ) -> Runtime:
        """A runtime whose variables resume from the journal, or start from the flow's; its steps
        see `flow_dir` (the top flow's, `options.flow_dir`, when None)."""
        variables = self.state.variables.get(scope)
        saved = dict(variables) if variables is not None else {}
        return Runtime(flow, scope, inputs, saved, depth, flow_dir or self.options.flow_dir)

    def now(self) -> float:
        """Wall clock, for timings."""
        return time.time()
