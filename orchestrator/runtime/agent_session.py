"""What the orchestrator does with each message an agent sends, once the protocol layer
(`shared.protocol.ServerConnection`) has checked that it is well formed, allowed in the
connection's state, and about an execution this connection holds.

Each handler's database work locks the execution row and re-checks that the execution is
still this agent's, at this attempt: an event from an agent whose lease moved is refused here
even if it slipped past the connection's own bookkeeping. The work of many connections is
committed together (`runtime/agent_writer.py`).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.db.session import Database
from orchestrator.errors import Conflict
from orchestrator.models.agents import Agent
from orchestrator.models.execution_records import ExecutionRecord
from orchestrator.models.executions import HELD_SQL, Execution
from orchestrator.runtime.agent_writer import AgentWriter, Rows, Work
from orchestrator.runtime.attended_reports import ATTENDED_TRIGGERS, record_report
from orchestrator.runtime.hub import AgentHub, AgentLink
from orchestrator.services.agent_logs import LogBudget, escape_control
from orchestrator.services.audit import Actor
from orchestrator.services.execution_journal import append_events
from orchestrator.services.execution_states import HELD, TERMINAL, State, transition
from orchestrator.services.session_checkpoints import SessionCheckpoints
from shared.protocol import (
    ExecutionReport,
    Heartbeat,
    Hello,
    JobAccepted,
    JobFinished,
    JobRejected,
    JobStop,
    JournalAck,
    JournalBatch,
    LogLine,
    Reclaimed,
    ServerConnection,
    SessionCheckpoint,
)

log = logging.getLogger("rpa.orchestrator.agents")


def agent_actor(agent_id: uuid.UUID, name: str) -> Actor:
    """How an agent's own moves are signed in an execution's history."""
    return Actor(id=agent_id, name=f"agent:{name}")


@dataclass
class AgentSession:
    """The server side of one agent connection, above the protocol layer.

    Handlers hand their database work to the process's `AgentWriter` (group commit with the
    other connections' messages) and act on the result once it is committed; while its commit
    loop is not running, each unit is written in a transaction of its own.
    """

    db: Database
    hub: AgentHub
    link: AgentLink
    connection: ServerConnection
    writer: AgentWriter
    log_budget: LogBudget | None = None
    """How much of the orchestrator's log this connection may write (None: no limit)."""
    checkpoints: SessionCheckpoints | None = None
    """Where the sessions' state of this agent's executions is kept for a resume (None: not kept)."""
    ended: dict[str, int] = field(default_factory=dict)
    """Executions of this connection whose stored journal ended them (terminal, so they can no longer
    move), with their stored `last_seq`: the agent's `job.finished` is then answered without a query."""

    @property
    def actor(self) -> Actor:
        return agent_actor(self.link.agent_id, self.link.name)

    async def _write(self, execution_id: str, work: Work) -> Any:
        return await self.writer.submit(uuid.UUID(execution_id), work)

    def release(self, execution_id: uuid.UUID, *, until_finished: bool = False) -> None:
        """This connection no longer holds the execution; capacity may be free. With
        `until_finished`, the agent may still send its `job.finished` (the slot is free already)."""
        self.link.running.pop(execution_id, None)
        self.link.confirm(execution_id)
        if not until_finished and str(execution_id) in self.connection.assigned:
            self.connection.release(str(execution_id))
        self.hub.on_free()

    def _held(self, rows: Rows, execution_id: str, attempt: int) -> ExecutionRecord | None:
        """The execution, if it is still this agent's, at this attempt, and on an agent."""
        execution = rows.get(uuid.UUID(execution_id))
        if (
            execution is None
            or execution.agent_id != self.link.agent_id
            or execution.attempt != attempt
            or State(execution.state) not in HELD
        ):
            return None
        return execution

    def _moved(self, execution_id: str) -> JobStop:
        self.release(uuid.UUID(execution_id))
        return JobStop(execution_id=execution_id, reason="moved")

    # --- handlers: each returns the replies to send ---------------------------------------------

    async def on_heartbeat(self, message: Heartbeat) -> list[object]:
        if message.unhealthy != self.link.unhealthy:
            # The reason is the agent's text: escaped and budgeted as its log lines.
            name = escape_control(self.link.name)
            said = f"takes no jobs: {escape_control(message.unhealthy)}" if message.unhealthy else "takes jobs again"
            if self._within_budget(len(name) + len(said)):
                log.log(logging.WARNING if message.unhealthy else logging.INFO, "agent %s %s", name, said)
            self.link.unhealthy = message.unhealthy
            if message.unhealthy is None:
                self.hub.on_free()
        self.hub.beat(self.link)
        if self.link.unconfirmed:
            for execution_id in message.running:
                with contextlib.suppress(ValueError):
                    self.link.confirm(uuid.UUID(execution_id))
        return [self.connection.heartbeat_ack(message.id)]

    async def on_accepted(self, message: JobAccepted) -> list[object]:
        self.link.confirm(uuid.UUID(message.execution_id))

        async def work(session: AsyncSession, rows: Rows) -> bool:
            execution = self._held(rows, message.execution_id, message.attempt)
            if execution is None:
                return False
            if execution.state == State.ASSIGNED.value:
                await transition(
                    session, execution, State.RUNNING, reason=f"agent {self.link.name} started it", actor=self.actor
                )
            return True

        return [] if await self._write(message.execution_id, work) else [self._moved(message.execution_id)]

    async def on_rejected(self, message: JobRejected) -> list[object]:
        async def work(session: AsyncSession, rows: Rows) -> None:
            execution = self._held(rows, message.execution_id, message.attempt)
            if execution is not None:
                await transition(
                    session,
                    execution,
                    State.LOST,
                    actor=self.actor,
                    reason=f"agent {self.link.name} rejected it: {message.reason[:200]}",
                )
                await transition(
                    session, execution, State.QUEUED, actor=self.actor, reason="requeued for another agent"
                )

        await self._write(message.execution_id, work)
        self.release(uuid.UUID(message.execution_id))
        self.hub.on_free(work=True)
        return []

    async def on_journal(self, message: JournalBatch) -> list[object]:
        self.link.confirm(uuid.UUID(message.execution_id))
        events = [event.model_dump() for event in message.events]

        async def work(session: AsyncSession, rows: Rows) -> tuple[int, bool] | None:
            execution = self._held(rows, message.execution_id, message.attempt)
            if execution is None:
                return None
            await append_events(session, execution, events, actor=self.actor)
            await follow_pause(session, execution, events, self.actor)
            return execution.last_seq, State(execution.state) in TERMINAL

        try:
            stored = await self._write(message.execution_id, work)
        except Conflict as err:
            log.warning(
                "agent %s sent a journal that conflicts with the stored one for %s: %s",
                self.link.name,
                message.execution_id,
                err.message,
            )
            return [self._moved(message.execution_id)]
        if stored is None:
            return [self._moved(message.execution_id)]
        last_seq, finished = stored
        self.hub.publish(uuid.UUID(message.execution_id), events)
        if finished:
            self.ended[message.execution_id] = last_seq
            self.release(uuid.UUID(message.execution_id), until_finished=True)
            self.hub.publish(uuid.UUID(message.execution_id), None)
            if self.checkpoints is not None:  # ended: no resume will need its sessions' state
                try:
                    await self.checkpoints.delete(self.link.org_id, uuid.UUID(message.execution_id))
                except Exception as exc:  # the purger's pass removes it later
                    log.warning(
                        "session checkpoints of %s not deleted yet (%s)", message.execution_id, type(exc).__name__
                    )
        return [JournalAck(execution_id=message.execution_id, seq=last_seq)]

    async def on_checkpoint(self, message: SessionCheckpoint) -> list[object]:
        """Keep a session's state; stored before the next message of the connection is read, so
        before the journal batch that reports the step it followed."""
        self.link.confirm(uuid.UUID(message.execution_id))
        if self.checkpoints is None:
            return []
        try:
            await self.checkpoints.put(
                self.link.org_id, uuid.UUID(message.execution_id), message.session, message.state
            )
        except Exception as exc:  # the vault or the store: a resume then cannot restore this state
            log.warning(
                "the state of session %s of execution %s was not kept (%s); a resume elsewhere cannot restore it",
                message.session,
                message.execution_id,
                type(exc).__name__,
            )
        return []

    async def on_finished(self, message: JobFinished) -> list[object]:
        ended = self.ended.pop(message.execution_id, None)
        if ended is not None and ended >= message.last_seq:
            # The protocol layer checked the attempt; a terminal execution stays this agent's run.
            self.release(uuid.UUID(message.execution_id))
            return [JournalAck(execution_id=message.execution_id, seq=ended)]

        async def work(_session: AsyncSession, rows: Rows) -> int | None:
            execution = rows.get(uuid.UUID(message.execution_id))
            if execution is None or execution.agent_id != self.link.agent_id or execution.attempt != message.attempt:
                return None
            return execution.last_seq

        last_seq = await self._write(message.execution_id, work)
        if last_seq is None:
            return [self._moved(message.execution_id)]
        # The journal's execution.finished decided the state; this is the agent's "done": once every
        # event is stored the job leaves the connection (a gap means more events are on their way).
        if last_seq >= message.last_seq:
            self.release(uuid.UUID(message.execution_id))
        return [JournalAck(execution_id=message.execution_id, seq=last_seq)]

    async def on_report(self, message: ExecutionReport) -> list[object]:
        """Record an attended execution the agent started itself (`attended_reports.py`)."""
        return [await record_report(self.db, self.link, message)]

    async def on_log(self, message: LogLine) -> list[object]:
        # Escaped and budgeted (services/agent_logs.py): one line per message, never a forged one.
        text = escape_control(message.message)
        name = escape_control(self.link.name)
        where = f" [{escape_control(message.execution_id)}]" if message.execution_id else ""
        if not self._within_budget(len(text) + len(name) + len(where)):
            return []
        level = getattr(logging, message.level.upper(), logging.INFO)
        log.log(level, "agent %s%s: %s", name, where, text)
        return []

    def _within_budget(self, size: int) -> bool:
        """Whether a line of `size` bytes from the agent may be written; says first how many were
        dropped before it."""
        budget = self.log_budget
        if budget is None:
            return True
        dropped = budget.dropped
        if not budget.take(size):
            return False
        if dropped:
            budget.dropped = 0
            log.warning(
                "agent %s: %d log lines dropped (over its budget of %d bytes per minute)",
                escape_control(self.link.name),
                dropped,
                budget.per_minute,
            )
        return True


PAUSE_NOTES = {"paused": State.PAUSED, "resumed": State.RUNNING}
"""The agent journals a pause of an attended run, and its end, as execution-level `node.note`s."""


async def follow_pause(
    session: AsyncSession, execution: ExecutionRecord, events: list[dict[str, Any]], actor: Actor
) -> None:
    """Move a running execution to `paused` (and back) as the last pause note of a batch says."""
    notes = [
        event["data"].get("kind")
        for event in events
        if event["type"] == "node.note" and event["path"] == "" and event["data"].get("kind") in PAUSE_NOTES
    ]
    if not notes:
        return
    target = PAUSE_NOTES[notes[-1]]
    state = State(execution.state)
    if (state, target) in ((State.RUNNING, State.PAUSED), (State.PAUSED, State.RUNNING)):
        reason = "paused on its agent" if target is State.PAUSED else "resumed on its agent"
        await transition(session, execution, target, reason=reason, actor=actor)


@dataclass
class Reconciled:
    """What `reconcile` made of the executions a (re)connecting agent reports running."""

    keep: dict[uuid.UUID, int] = field(default_factory=dict)
    """Still its own: execution id → the attempt it holds (for a reclaimed one, the new attempt)."""
    stop: list[str] = field(default_factory=list)
    """Moved to another agent or ended: the agent stops them (`welcome.stop`)."""
    reclaimed: list[Reclaimed] = field(default_factory=list)
    """Requeued while it was away and taken by nobody since: it goes on under the new attempt."""
    labels: frozenset[str] = frozenset()
    """The agent's labels: those it was enrolled with and those it announces."""
    taken_back: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    """Reclaimed from another agent that had been given it but had not started it (execution id →
    that agent): that agent is told to stop it (`stop_taken_back`)."""
    requeued: list[uuid.UUID] = field(default_factory=list)
    """Held by the agent in the database but not reported in its `hello` (a `job.assign` lost to a
    cut or a crash, or a run its machine lost): requeued for the next matching agent."""


async def reconcile(db: Database, agent_id: uuid.UUID, hello: Hello) -> Reconciled:
    """Record what the agent reported, and sort the executions it says it runs into those it
    keeps (still its own, same attempt, not finished), those it reclaims and those it must stop.

    A reclaim: the agent was gone longer than the grace, so its execution went back to the queue
    under a new attempt (`previous_agent_id` names the agent), but no other agent took it. The
    agent never stopped the run, so it goes on with it rather than stop it and have the same run
    resumed from the stored journal, with its unacknowledged events and the step in progress lost.
    Only a version-2 agent is told (`welcome.reclaimed`); a version-1 agent stops it, as before."""
    done = Reconciled(labels=frozenset(hello.labels))
    async with db.transaction() as session:
        agent = await session.get(Agent, agent_id)
        if agent is not None:
            now = utcnow()
            agent.capabilities = sorted(set(hello.capabilities))
            agent.labels = sorted(set(agent.labels) | set(hello.labels))
            agent.steps, agent.version, agent.max_jobs = sorted(set(hello.steps)), hello.version[:50], hello.max_jobs
            agent.connected_at = agent.last_seen_at = now
            done.labels = frozenset(agent.labels)
        for job in hello.running:
            try:
                execution_id = uuid.UUID(job.execution_id)
            except ValueError:
                done.stop.append(job.execution_id)
                continue
            # Locked: the dispatcher may be giving a requeued one to another agent right now.
            execution = await session.get(Execution, execution_id, with_for_update=True)
            if (
                execution is not None
                and execution.agent_id == agent_id
                and execution.attempt == job.attempt
                and State(execution.state) in HELD
            ):
                done.keep[execution_id] = job.attempt
            elif (
                execution is not None
                and hello.protocol_version >= 2
                and execution.state == State.QUEUED.value
                and execution.previous_agent_id == agent_id
                and execution.attempt == job.attempt + 1
            ):
                execution.agent_id = agent_id
                await transition(
                    session,
                    execution,
                    State.RUNNING,
                    actor=agent_actor(agent_id, hello.name),
                    reason=f"agent {hello.name} came back before another agent took it, and goes on with it "
                    f"(attempt {execution.attempt})",
                )
                done.keep[execution_id] = execution.attempt
                done.reclaimed.append(Reclaimed(execution_id=job.execution_id, attempt=execution.attempt))
            elif (
                execution is not None
                and hello.protocol_version >= 2
                and execution.state == State.ASSIGNED.value
                and execution.previous_agent_id == agent_id
                and execution.attempt == job.attempt + 1
                and execution.agent_id is not None
                and execution.agent_id != agent_id
            ):
                # Given to another agent that has not started it (it would be running): nothing was
                # done there, while this agent's journal is ahead of the stored one (maybe finished,
                # unacknowledged). Taking it back merges that journal; resuming elsewhere from the
                # stored one would run the steps this agent already ran again.
                done.taken_back[execution_id] = execution.agent_id
                execution.agent_id = agent_id
                await transition(
                    session,
                    execution,
                    State.RUNNING,
                    actor=agent_actor(agent_id, hello.name),
                    reason=f"agent {hello.name} came back with the run before the agent it was given to started "
                    f"it, and goes on with it (attempt {execution.attempt})",
                )
                done.keep[execution_id] = execution.attempt
                done.reclaimed.append(Reclaimed(execution_id=job.execution_id, attempt=execution.attempt))
            else:
                done.stop.append(job.execution_id)
        await _requeue_unreported(session, agent_id, hello.name, done)
    return done


async def _requeue_unreported(session: AsyncSession, agent_id: uuid.UUID, name: str, done: Reconciled) -> None:
    """Requeue what the database says the agent holds but the agent did not report as its own.

    The agent's `hello` lists every execution its outbox holds, from the moment a `job.assign`
    arrives until the orchestrator acknowledged its end; one it does not list never reached it
    (the frame was lost to a cut, or the orchestrator stopped between the commit and the send)
    or is gone from its machine. Nobody runs it, so it waits for the next matching agent."""
    unreported = list(
        await session.scalars(
            select(Execution)
            .where(
                Execution.agent_id == agent_id,
                text(HELD_SQL),  # ix_executions_held_agent
                Execution.id.not_in(list(done.keep)) if done.keep else true(),
                # An attended run lives on its agent's machine only: its report may still be on the way.
                Execution.trigger_type.not_in(sorted(ATTENDED_TRIGGERS)),
            )
            .order_by(Execution.id)
            .with_for_update()
        )
    )
    actor = agent_actor(agent_id, name)
    for execution in unreported:
        if execution.agent_id != agent_id or State(execution.state) not in HELD or execution.id in done.keep:
            continue
        log.warning(
            "agent %s reconnected without execution %s (attempt %d, %s): it never got the job or lost it; requeued",
            name,
            execution.id,
            execution.attempt,
            execution.state,
        )
        await transition(
            session,
            execution,
            State.LOST,
            actor=actor,
            reason=f"agent {name} reconnected without it (the job never reached it, or its machine lost it)",
        )
        await transition(
            session,
            execution,
            State.QUEUED,
            actor=actor,
            reason="requeued with its journal for the next matching agent",
        )
        done.requeued.append(execution.id)


async def stop_taken_back(hub: AgentHub, taken_back: dict[uuid.UUID, uuid.UUID]) -> None:
    """Tell each agent an execution was taken back from (`Reconciled.taken_back`) to stop it, if it
    is connected here; elsewhere, its next message about it is answered `job.stop`."""
    for execution_id, other in taken_back.items():
        link = hub.link_of(other)
        if link is None or execution_id not in link.running:
            continue
        link.drop(execution_id)
        hub.on_free()
        with contextlib.suppress(Exception):  # a dead socket: its agent is told at its next hello
            await link.send(JobStop(execution_id=str(execution_id), reason="moved"))


async def record_disconnect(db: Database, agent_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        agent = await session.get(Agent, agent_id)
        if agent is not None:
            agent.disconnected_at = agent.last_seen_at = utcnow()
