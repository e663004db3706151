"""The job runner: takes an assignment, journals it in the outbox, runs it with the engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent import session_checkpoints
from agent.environment import allowed_env
from agent.outbox import Outbox, OutboxJournal, OutboxWriteError
from agent.runtime._assets import (
    AssetCache,
    AssetFetchError,
    prepare_assets,
    prepare_subflow_assets,
    remove_flow_dir,
)
from agent.runtime._config import AgentConfig
from agent.runtime._logs import JournaledLogs
from agent.runtime._uploads import PendingUploads
from shared.engine import Engine, ExecutionHooks
from shared.engine._events import EXECUTION_FINISHED, EXECUTION_STARTED
from shared.errors import FlowLoadError
from shared.flow import Flow
from shared.protocol import JobAccepted, JobAssign, JobRejected
from shared.steps import StepRegistry

log = logging.getLogger("rpa.agent")

WriteFailed = Callable[[str | None, OutboxWriteError], None]
"""Told of an outbox write that failed, with the execution it was for (None: no job's own)."""


class SubflowLoader:
    """`flow.call` references resolved from the sub-flows a job carries; each sub-flow's steps see
    its own folder of files (`folders`, laid out by `prepare_subflow_assets`) as `flow_dir`."""

    def __init__(self, documents: dict[str, dict[str, Any]], folders: Mapping[str, Path] | None = None) -> None:
        self.documents = documents
        self.folders = dict(folders or {})
        self._flows: dict[str, Flow] = {}
        self._folders: dict[int, Path] = {}

    def folder_of(self, flow: Flow) -> Path | None:
        """The folder of a sub-flow this loader loaded (None for any other flow)."""
        return self._folders.get(id(flow))

    def load(self, reference: str, caller: Flow) -> Flow:
        if reference not in self._flows:
            document = self.documents.get(reference)
            if document is None:
                raise FlowLoadError(f"the job carries no sub-flow '{reference}'")
            flow = self._flows[reference] = Flow.model_validate(document)
            if reference in self.folders:
                self._folders[id(flow)] = self.folders[reference]
        return self._flows[reference]


class JobRunner:
    """The executions this agent runs now, each an asyncio task.

    Args:
        config: the agent's settings.
        registry: the steps the engine runs.
        outbox: where every job is journaled before anything is sent.
        wake: called (from any thread) when the sender has something new to send.
        write_failed: told when the outbox refuses a write; the job it was for has stopped.
        problem: why the agent cannot take jobs now, or None.
    """

    def __init__(
        self,
        config: AgentConfig,
        registry: StepRegistry,
        outbox: Outbox,
        wake: Callable[[], None],
        write_failed: WriteFailed,
        problem: Callable[[], str | None],
    ) -> None:
        self.config = config
        self.registry = registry
        self.outbox = outbox
        self.wake = wake
        self.write_failed = write_failed
        self.problem = problem
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.engines: dict[str, Engine] = {}
        self.local_registry: StepRegistry | None = None
        """The steps without the fence, for attended runs the agent created itself (None: fenced too)."""
        self.journals: dict[str, OutboxJournal] = {}
        """The journal each running execution writes (an attended run's pause notes go there too)."""
        self.asset_cache = AssetCache(config.home / "assets", config.asset_cache_bytes)
        self.uploads = PendingUploads(config.home, lambda: self.config.url, lambda: self.config.key)
        """Artifacts of ended executions not in the orchestrator yet (sent again on reconnection)."""

    def take(
        self, job: JobAssign, *, report: dict[str, Any] | None = None, hooks: ExecutionHooks | None = None
    ) -> JobAccepted | JobRejected:
        """Journal and start an assigned execution, or say why not.

        Args:
            job: the assignment (or, for an attended run, the one the agent made itself).
            report: for an attended run the agent created, its `execution.report` fields: stored
                with the job, sent before its journal (`agent/attended/`).
            hooks: engine hooks for the run (an attended run's pause gate).

        Returns:
            The answer to send: `job.accepted` once the job runs, `job.rejected` with the reason.
        """
        problem = self.problem()
        if problem is not None:  # a job it cannot journal would be lost: leave it to another agent
            return JobRejected(execution_id=job.execution_id, attempt=job.attempt, reason=problem)
        if len(self.tasks) >= self.config.max_jobs or job.execution_id in self.tasks:
            return JobRejected(
                execution_id=job.execution_id,
                attempt=job.attempt,
                reason=f"this agent runs {len(self.tasks)} of {self.config.max_jobs} jobs",
            )
        try:
            flow = Flow.model_validate(job.flow)
        except Exception as exc:  # a version the orchestrator validated, from a newer format
            return JobRejected(
                execution_id=job.execution_id,
                attempt=job.attempt,
                reason=f"this agent cannot read the flow: {str(exc)[:300]}",
            )
        seed = [event.to_event() for event in job.journal]
        assignment = job.model_dump(exclude={"secrets", "sessions"})
        if report is not None:
            assignment["report"] = report
        try:
            journal = self.outbox.open_job(job.execution_id, job.attempt, assignment, seed)
        except OutboxWriteError as exc:
            self.write_failed(None, exc)
            return JobRejected(execution_id=job.execution_id, attempt=job.attempt, reason=self.problem() or str(exc))
        record = self.outbox.job(job.execution_id)
        if record is not None and record.finished:
            # It ended here while the orchestrator did not hear it: send that end, run nothing again.
            log.info(
                "execution %s already ended on this agent; sending its journal under attempt %d",
                job.execution_id,
                job.attempt,
            )
            self.wake()
            return JobAccepted(execution_id=job.execution_id, attempt=job.attempt)
        _seed_sessions(job)
        loop = asyncio.get_running_loop()
        journal.subscribe(lambda _batch: loop.call_soon_threadsafe(self.wake))
        self.journals[job.execution_id] = journal
        # An attended run is not fenced: a person started it here, no other agent can ever run it.
        registry = self.local_registry if report is not None and self.local_registry is not None else self.registry
        self.tasks[job.execution_id] = asyncio.create_task(self._run(job, flow, journal, hooks, registry))
        return JobAccepted(execution_id=job.execution_id, attempt=job.attempt)

    async def _run(
        self,
        job: JobAssign,
        flow: Flow,
        journal: OutboxJournal,
        hooks: ExecutionHooks | None,
        registry: StepRegistry,
    ) -> None:
        secrets = dict(job.secrets)
        try:
            # The version's files, laid out for this execution alone: relative names resolve
            # there, never in the agent's own folders (`context().flow_dir`).
            flow_dir = await prepare_assets(
                self.config.url, self.config.key, self.config.home, job.execution_id, job.assets, self.asset_cache
            )
            # Each sub-flow's files in a folder of its own (an empty one when it has none).
            subflow_dirs = await prepare_subflow_assets(
                self.config.url,
                self.config.key,
                self.config.home,
                job.execution_id,
                {name: job.subflow_assets.get(name, {}) for name in job.subflows},
                self.asset_cache,
            )
        except (AssetFetchError, OSError) as exc:
            log.warning("execution %s cannot start: %s", job.execution_id, exc)
            _fail_before_start(journal, job, flow, str(exc))
            self.outbox.mark_finished(job.execution_id)
            self.tasks.pop(job.execution_id, None)
            self.wake()
            return
        engine = Engine(
            registry,
            loader=SubflowLoader(job.subflows, subflow_dirs),
            secrets=secrets.get,
            env=allowed_env(self.config.env_allowlist),
            artifacts_dir=self.config.home / "artifacts",
            flow_dir=flow_dir,
            # A run keeps its steps' log lines in its journal (bounded): they reach the
            # orchestrator with it (the studio's monitor, `rpa exec logs`), and the tray's run
            # details show an attended run's.
            on_log=JournaledLogs(journal),
        )  # files land in artifacts/<execution id>/
        self.engines[job.execution_id] = engine
        try:
            await engine.run(flow, job.inputs, journal=journal, hooks=hooks)
            session_checkpoints.delete_execution(job.execution_id)  # ended: no resume needs them
            await self.uploads.send(job.execution_id, ended=True)  # what cannot go now stays pending
            self.outbox.mark_finished(job.execution_id)
            remove_flow_dir(self.config.home, job.execution_id)
        except asyncio.CancelledError:
            pass  # stopped (moved elsewhere, or the agent is stopping): the journal stays open
        except Exception as exc:
            refused = _write_error(exc)
            if refused is not None:  # the engine stopped at the event it could not journal
                self.write_failed(job.execution_id, refused)
            else:
                log.exception("execution %s could not run", job.execution_id)
        finally:
            self.tasks.pop(job.execution_id, None)
            self.engines.pop(job.execution_id, None)
            self.journals.pop(job.execution_id, None)
            self.wake()

    def cancel(self, execution_id: str) -> bool:
        """Ask the engine to cancel the execution; True when it took the request."""
        engine = self.engines.get(execution_id)
        return engine is not None and engine.cancel(execution_id)

    def stop(self, execution_id: str) -> None:
        """Stop running an execution here without ending it (its journal is kept)."""
        task = self.tasks.pop(execution_id, None)
        if task is not None:
            task.cancel()


def _seed_sessions(job: JobAssign) -> None:
    """Write the session checkpoints the job carries (a resume of a run begun elsewhere)."""
    if not job.sessions:
        return
    try:
        written = session_checkpoints.seed(job.execution_id, job.sessions)
    except OSError as exc:  # the step then says the session cannot be restored
        log.warning("execution %s: its sessions' state could not be kept (%s)", job.execution_id, exc)
        return
    log.info("execution %s: the state of %d session(s) is ready for its resume", job.execution_id, written)


def _fail_before_start(journal: OutboxJournal, job: JobAssign, flow: Flow, message: str) -> None:
    """End the execution as failed without running a step (its assets could not be had)."""
    batch: list[tuple[str, str, dict[str, Any]]] = []
    if not any(event.type == EXECUTION_STARTED for event in journal.read()):
        started = {"execution_id": job.execution_id, "flow": flow.name, "inputs": dict(job.inputs), "variables": {}}
        batch.append((EXECUTION_STARTED, "", started))
    error = {"kind": "assets", "message": message, "retryable": False}
    batch.append((EXECUTION_FINISHED, "", {"status": "failed", "outputs": {}, "error": error}))
    journal.append_many(batch)


def _write_error(exc: BaseException) -> OutboxWriteError | None:
    """The outbox write error behind `exc` (the engine may have wrapped it), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OutboxWriteError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
