"""The public face of the engine: run (or resume) one execution of a flow."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shared.engine import _events as ev
from shared.engine._frames import Frame, NodeFailed
from shared.engine._hooks import ExecutionHooks
from shared.engine._journal import Journal, MemoryJournal
from shared.engine._runner import Execution, ExecutionOptions, LogCallback
from shared.engine._state import fold
from shared.errors import FlowLoadError
from shared.expressions import ExpressionError
from shared.flow import Flow, load_flow, resolve_inputs
from shared.states import TerminalStatus
from shared.steps import StepRegistry

log = logging.getLogger(__name__)

Status = TerminalStatus


@dataclass
class ExecutionResult:
    """How an execution ended."""

    execution_id: str
    status: Status
    outputs: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """`{"status", "outputs", "execution_id", "error"}`, as `rpa run --json` prints it."""
        return {"status": self.status, "outputs": self.outputs, "execution_id": self.execution_id, "error": self.error}


class FlowLoader(Protocol):
    """Finds the flow a `flow.call` node names.

    A loader may also offer `folder_of(flow) -> Path | None`: the folder of a flow it loaded,
    where that sub-flow's assets sit; its steps then see it as `context().flow_dir` (else they
    see their caller's)."""

    def load(self, reference: str, caller: Flow) -> Flow:
        """The flow `reference` names, as seen from `caller`."""
        ...


class FileFlowLoader:
    """Sub-flows from local files: `reference` is a path relative to the calling flow's folder
    (or to `base_dir` for flows that were not loaded from a file). `.json`, `.yaml` and `.yml`
    may be left off. Each file is parsed and validated once."""

    def __init__(self, base_dir: str | Path, registry: StepRegistry | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.registry = registry
        self._cache: dict[Path, Flow] = {}
        self._origin: dict[int, Path] = {}

    def remember(self, flow: Flow, path: Path) -> None:
        """Record where `flow` was read from, so its own references resolve next to it."""
        self._origin[id(flow)] = path.resolve().parent

    def folder_of(self, flow: Flow) -> Path | None:
        """The folder `flow` was read from (its assets sit there), or None."""
        return self._origin.get(id(flow))

    def load(self, reference: str, caller: Flow) -> Flow:
        folder = self._origin.get(id(caller), self.base_dir)
        candidates = [folder / reference] + [folder / f"{reference}{ext}" for ext in (".json", ".yaml", ".yml")]
        for candidate in candidates:
            if candidate.is_file():
                resolved = candidate.resolve()
                flow = self._cache.get(resolved)
                if flow is None:
                    flow = self._cache[resolved] = load_flow(resolved, registry=self.registry)
                    self.remember(flow, resolved)
                return flow
        raise FlowLoadError(f"no flow file '{reference}' in {folder}")


class Engine:
    """Runs flows with a step catalogue. Knows nothing of networks or databases.

    Args:
        registry: the step catalogue (default: built-ins plus plugins).
        loader: resolves `flow.call` references.
        secrets: resolves `secrets.<name>`; every value it returns is masked in events and logs.
        artifacts_dir: where steps write files and large outputs go.
        env: what `env` shows to expressions.
        on_log: receives step log lines (already masked).
        executor: runs sync steps (default: the event loop's thread pool).
        max_inline_output: outputs larger than this (bytes of JSON) are journaled as artifacts.
        flow_dir: where the flow's assets sit (`context().flow_dir`): relative file params resolve there.
    """

    def __init__(
        self,
        registry: StepRegistry | None = None,
        *,
        loader: FlowLoader | None = None,
        secrets: Callable[[str], str | None] | None = None,
        artifacts_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        on_log: LogCallback | None = None,
        executor: Executor | None = None,
        max_inline_output: int = 256 * 1024,
        flow_dir: str | Path | None = None,
    ) -> None:
        self.registry = registry or StepRegistry.default()
        root = Path(artifacts_dir) if artifacts_dir else Path(tempfile.gettempdir()) / "rpa-artifacts"
        self.options = ExecutionOptions(
            registry=self.registry,
            loader=loader,
            secrets=secrets,
            artifacts_root=root,
            env=dict(env or {}),
            on_log=on_log,
            executor=executor,
            max_inline_output=max_inline_output,
            flow_dir=Path(flow_dir) if flow_dir is not None else None,
        )
        self._running: dict[str, tuple[Execution, asyncio.Task[Any]]] = {}
        self._cancel_requested: set[str] = set()

    def load_artifact(self, reference: dict[str, Any]) -> Any:
        """The output an `{"$artifact": ...}` reference stands for."""
        target = self.options.artifacts_root / str(reference[ev.ARTIFACT_REF])
        return json.loads(target.read_text(encoding="utf-8"))

    async def run(
        self,
        flow: Flow,
        inputs: Mapping[str, Any] | None = None,
        *,
        journal: Journal | None = None,
        execution_id: str | None = None,
        hooks: ExecutionHooks | None = None,
    ) -> ExecutionResult:
        """Run `flow`, or resume it when `journal` already holds events.

        `hooks` (a debugger) are awaited before and after each node instance
        (`shared.engine.ExecutionHooks`).

        Raises:
            FlowInputError: when `inputs` do not match the flow's declared inputs (nothing is
                journaled then).
        """
        if journal is None:
            journal = MemoryJournal(execution_id or uuid.uuid4().hex)
        execution_id = journal.execution_id
        state = fold(journal.read(), self.load_artifact)
        if state.finished is not None:
            return self._result_of(execution_id, state.finished)
        execution = Execution(self.options, journal, state, execution_id, flow.settings.max_parallel_nodes)
        execution.info.update({"flow": flow.name})
        execution.hooks = hooks
        if state.started is None:
            resolved = resolve_inputs(flow, dict(inputs or {}))
            runtime = execution.runtime_for(flow, "", resolved, 0)
            problem: dict[str, Any] | None = None
            try:
                variables = execution.render((id(flow), "variables"), flow.variables, Frame(runtime))
            except ExpressionError as err:
                variables = {}
                problem = {"kind": "expression", "message": f"variables: {err.message}"}
            runtime.variables.update(variables)
            execution.emit(
                (
                    ev.EXECUTION_STARTED,
                    "",
                    {"execution_id": execution_id, "flow": flow.name, "inputs": resolved, "variables": variables},
                )
            )
            if problem is not None:
                return self._finish(execution, "failed", {}, problem)
        else:
            runtime = execution.runtime_for(flow, "", dict(state.started.get("inputs") or {}), 0)
        task = asyncio.current_task()
        assert task is not None
        self._running[execution_id] = (execution, task)
        try:
            return await self._drive(execution, flow, Frame(runtime))
        finally:
            self._running.pop(execution_id, None)
            self._cancel_requested.discard(execution_id)
            # Browser sessions, transactions, connections: nothing a step opened outlives its
            # execution, whether it finished, failed, was cancelled or its host is stopping.
            await asyncio.shield(execution.resources.aclose())

    async def _drive(self, execution: Execution, flow: Flow, frame: Frame) -> ExecutionResult:
        try:
            if flow.settings.timeout_s is None:
                await execution.run_graph(flow, "", frame)
            else:
                try:
                    async with asyncio.timeout(flow.settings.timeout_s):
                        await execution.run_graph(flow, "", frame)
                except TimeoutError:
                    execution.cancel()
                    message = f"the execution did not finish within {flow.settings.timeout_s:g} s"
                    return self._finish(execution, "timed_out", {}, {"kind": "timeout", "message": message})
            outputs = execution.render((id(flow), "outputs"), flow.outputs, frame)
        except NodeFailed as failed:
            return self._finish(execution, "failed", {}, failed.error)
        except ExpressionError as err:
            return self._finish(execution, "failed", {}, {"kind": "expression", "message": f"outputs: {err.message}"})
        except asyncio.CancelledError:
            if execution.execution_id in self._cancel_requested:
                return self._finish(
                    execution, "cancelled", {}, {"kind": "cancelled", "message": "the execution was cancelled"}
                )
            raise  # the host is stopping: leave the journal open so the execution can resume
        return self._finish(execution, "succeeded", outputs, None)

    def cancel(self, execution_id: str) -> bool:
        """Ask a running execution to stop; steps see `context().is_cancelled()`.

        Returns:
            False when no such execution is running here.
        """
        running = self._running.get(execution_id)
        if running is None:
            return False
        execution, task = running
        self._cancel_requested.add(execution_id)
        execution.cancel()
        task.cancel()
        return True

    def _finish(
        self, execution: Execution, status: Status, outputs: dict[str, Any], error: dict[str, Any] | None
    ) -> ExecutionResult:
        data = {"status": status, "outputs": outputs, "error": error}
        execution.emit((ev.EXECUTION_FINISHED, "", data))
        masked = execution.masker.mask(data)
        return self._result_of(execution.execution_id, masked)

    @staticmethod
    def _result_of(execution_id: str, finished: dict[str, Any]) -> ExecutionResult:
        return ExecutionResult(
            execution_id, finished["status"], dict(finished.get("outputs") or {}), finished.get("error")
        )
