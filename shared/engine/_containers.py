"""Containers the engine runs itself: loops, try, and sub-flows.

Each keeps the top graph acyclic by holding nested graphs. A container journals its decisions
(the items a loop runs over, each iteration it starts, each iteration's result) so a resume
follows the same path instead of deciding again with variables that have moved on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.engine import _events as ev
from shared.engine._frames import Frame, NodeFailed, Runtime
from shared.errors import FlowInputError, RpaError, StepError
from shared.expressions import ExpressionError
from shared.flow import Flow, Graph, Node, resolve_inputs

if TYPE_CHECKING:
    from shared.engine._runner import Execution
    from shared.steps import StepDefinition

Handler = Callable[["Execution", Node, str, Frame], Awaitable[Any]]


async def run_container(
    execution: Execution, node: Node, definition: StepDefinition, path: str, frame: Frame
) -> str | None:
    """Run a container node and apply its error policy; return the port it emitted on."""
    attempt = execution.state.attempts.get(path, 0) + 1
    started: dict[str, Any] = {"attempt": attempt, "type": node.type}
    if attempt > 1:
        started["resumed"] = True
    handler = _HANDLERS[node.type]
    try:
        if node.type in _LOOPS and path not in execution.state.loop_items:
            items = _foreach_items(execution, node, frame)
            execution.state.loop_items[path] = items
            started["items"] = execution.store_output(f"{path}#items", items)
    except StepError as err:
        return execution.handle_failure(node, path, frame, execution.error_dict(err, node, path), attempt)
    execution.emit((ev.NODE_STARTED, path, started))
    execution.state.attempts[path] = attempt
    try:
        if node.timeout_s is None:
            output = await handler(execution, node, path, frame)
        else:
            try:
                async with asyncio.timeout(node.timeout_s):
                    output = await handler(execution, node, path, frame)
            except TimeoutError:
                raise StepError(f"did not finish within {node.timeout_s:g} s", kind="timeout") from None
    except NodeFailed as failed:
        return execution.handle_failure(node, path, frame, failed.error, attempt)
    except StepError as err:
        return execution.handle_failure(node, path, frame, execution.error_dict(err, node, path), attempt)
    return execution.succeed(node, path, frame, output, attempt)


def _param(execution: Execution, node: Node, frame: Frame, name: str, default: Any = None, **extra: Any) -> Any:
    raw = node.params.get(name, default)
    try:
        return execution.render((id(node), "param", name), raw, frame, extra=extra or None)
    except ExpressionError as err:
        raise StepError(f"params.{name}: {err.message}", kind="expression", retryable=False) from None


def _int_param(execution: Execution, node: Node, frame: Frame, name: str, default: int, low: int) -> int:
    value = _param(execution, node, frame, name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise StepError(
            f"params.{name} must be a whole number >= {low}, not {value!r}", kind="validation", retryable=False
        )
    return value


def _iteration_result(execution: Execution, node: Node, child: Frame) -> Any:
    if "collect" in node.params:
        return _param(execution, node, child, "collect")
    return {key: result.output for key, result in child.results.items() if result.status == "succeeded"}


async def _run_iteration(
    execution: Execution, node: Node, path: str, frame: Frame, index: int, item: Any, body: Graph
) -> Any:
    state = execution.state
    done = state.iteration_results.get(path, {})
    if index in done:
        return done[index]
    if index not in state.iterations_started.get(path, set()):
        execution.emit((ev.ITERATION_STARTED, path, {"index": index}))
        state.iterations_started.setdefault(path, set()).add(index)
    child = frame.child(item=item, index=index)
    await execution.run_graph(body, f"{path}[{index}]/", child)
    result = _iteration_result(execution, node, child)
    stored = execution.store_output(f"{path}[{index}]#result", result)
    execution.emit((ev.ITERATION_FINISHED, path, {"index": index, "result": stored}))
    state.iteration_results.setdefault(path, {})[index] = result
    return result


_LOOPS = ("control.foreach", "control.parallel_foreach")


def _foreach_items(execution: Execution, node: Node, frame: Frame) -> list[Any]:
    """The items a loop runs over: a list; an object gives {key, value} pairs, a number a range."""
    raw = _param(execution, node, frame, "items")
    if isinstance(raw, dict):
        return [{"key": k, "value": v} for k, v in raw.items()]
    if isinstance(raw, int) and not isinstance(raw, bool):
        return list(range(raw))
    if not isinstance(raw, list):
        raise StepError(f"params.items must be a list, not {type(raw).__name__}", kind="validation", retryable=False)
    return raw


async def _foreach(execution: Execution, node: Node, path: str, frame: Frame) -> Any:
    assert node.body is not None
    body = node.body
    items = execution.state.loop_items[path]
    default_concurrency = 1 if node.type == "control.foreach" else execution.max_parallel
    concurrency = _int_param(execution, node, frame, "concurrency", default_concurrency, 1)
    results: list[Any] = [None] * len(items)
    if concurrency == 1:
        for index, item in enumerate(items):
            results[index] = await _run_iteration(execution, node, path, frame, index, item, body)
        return results

    indexes = iter(range(len(items)))

    async def worker() -> None:
        for index in indexes:
            results[index] = await _run_iteration(execution, node, path, frame, index, items[index], body)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        await _first_failure(workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return results


async def _first_failure(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for all tasks; re-raise the first exception at once."""
    pending = set(tasks)
    while pending:
        finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in finished:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


async def _while(execution: Execution, node: Node, path: str, frame: Frame) -> Any:
    assert node.body is not None
    limit = _int_param(execution, node, frame, "max_iterations", 1000, 1)
    started = execution.state.iterations_started.get(path, set())
    results: list[Any] = []
    index = 0
    while True:
        if index not in started:
            if not _param(execution, node, frame, "condition", index=index):
                return results
            if index >= limit:
                raise StepError(
                    f"the loop did not end within max_iterations={limit}", kind="loop_limit", retryable=False
                )
        results.append(await _run_iteration(execution, node, path, frame, index, None, node.body))
        index += 1


def _same_scope(frame: Frame, **bindings: Any) -> Frame:
    """A frame sharing `frame`'s results: a try runs once per enclosing instance, so what its
    bodies produce is visible after it, like statements in a try block."""
    return Frame(frame.runtime, frame.parent, {**frame.bindings, **bindings}, frame.results)


_CANCELLED = {"kind": "cancelled", "message": "the execution was cancelled"}


async def _try(execution: Execution, node: Node, path: str, frame: Frame) -> Any:
    assert node.body is not None
    caught: dict[str, Any] | None = None
    failure: NodeFailed | None = None
    try:
        await execution.run_graph(node.body, f"{path}/", _same_scope(frame))
    except asyncio.CancelledError:
        if node.finally_ is None or not execution.cancelled:
            raise  # the host is stopping: the journal stays open, nothing more runs here
        # Cancelled (`Engine.cancel`, e.g. an attended run's stop): the finally body still runs, as
        # Python's does, and the cancellation goes on after it.
        await execution.run_graph(node.finally_, f"{path}/", _same_scope(frame, error=_CANCELLED))
        raise
    except NodeFailed as failed:
        caught = failed.error
        if node.catch is None:
            failure = failed
        else:
            try:
                await execution.run_graph(node.catch, f"{path}/", _same_scope(frame, error=failed.error))
            except NodeFailed as again:
                failure = again
    if node.finally_ is not None:
        await execution.run_graph(node.finally_, f"{path}/", _same_scope(frame, error=caught))
    if failure is not None:
        raise failure
    return {"failed": caught is not None, "error": caught}


async def _call(execution: Execution, node: Node, path: str, frame: Frame) -> Any:
    loader = execution.options.loader
    if loader is None:
        raise StepError("flow.call needs a flow loader, and none was configured", kind="configuration", retryable=False)
    if frame.runtime.depth >= execution.options.max_call_depth:
        raise StepError(
            f"sub-flows are nested deeper than {execution.options.max_call_depth} levels",
            kind="validation",
            retryable=False,
        )
    reference = _param(execution, node, frame, "flow")
    given = _param(execution, node, frame, "inputs", {})
    if not isinstance(reference, str) or not isinstance(given, dict):
        raise StepError("params.flow must be a string and params.inputs an object", kind="validation", retryable=False)
    try:
        sub = loader.load(reference, frame.runtime.flow)
        inputs = resolve_inputs(sub, given)
    except FlowInputError as err:
        raise StepError(f"sub-flow '{reference}': {err}", kind="validation", retryable=False) from None
    except RpaError as err:
        raise StepError(f"sub-flow '{reference}': {err}", kind="validation", retryable=False) from None
    # The sub-flow's own folder, when the loader knows it (`FlowLoader`); else the caller's.
    folder_of: Callable[[Flow], Path | None] | None = getattr(loader, "folder_of", None)
    flow_dir = (folder_of(sub) if folder_of is not None else None) or frame.runtime.flow_dir
    runtime: Runtime = execution.runtime_for(sub, path, inputs, frame.runtime.depth + 1, flow_dir)
    sub_frame = Frame(runtime)
    if path not in execution.state.variables:
        initial = execution.render((id(sub), "variables"), sub.variables, sub_frame)
        runtime.variables.update(initial)
        execution.state.variables[path] = dict(initial)
        if initial:
            execution.emit(
                *[(ev.VARIABLE_SET, path, {"scope": path, "name": k, "value": v}) for k, v in initial.items()]
            )
    await execution.run_graph(sub, f"{path}/", sub_frame)
    try:
        return execution.render((id(sub), "outputs"), sub.outputs, sub_frame)
    except ExpressionError as err:
        raise StepError(f"sub-flow outputs: {err.message}", kind="expression", retryable=False) from None


_HANDLERS: dict[str, Handler] = {
    "control.foreach": _foreach,
    "control.parallel_foreach": _foreach,
    "control.while": _while,
    "control.try": _try,
    "flow.call": _call,
}
