"""Queue and dispatch: queued executions go to matching agents the moment both exist.

There is no polling interval in the path: `Dispatcher.kick()` is called when an execution is
queued, when an agent connects and when a slot frees up (`hub.on_free`, wired in `app.py`); the
commit loop (`db/group_commit.py`) then runs a pass at the end of its next batch, in the batch's
transaction, which takes the queued executions in order (priority, urgent first; FIFO within a
level) and gives each to the best matching agent with a free slot:

- same organisation; every capability the flow `requires` (an entry `label:NAME` asks for an
  agent label instead); every step type of the flow in the agent's catalogue;
- the workflow's `settings.max_concurrent_executions` not reached;
- among the matches, the agent with most free slots, then the one given least work so far.

The assignment (queued → assigned) is committed before `job.assign` is sent, so a crash between
the two leaves an assigned execution that the lease reaper requeues. `why_waiting()` explains a
queued execution that did not move.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.db.group_commit import CommitLoop
from orchestrator.db.session import Database
from orchestrator.errors import Conflict, Forbidden, NotFound
from orchestrator.models.agents import Agent
from orchestrator.models.execution_records import (
    ExecutionRecord,
    columns_except,
    read_records,
    write_records,
)
from orchestrator.models.executions import Execution, ExecutionEvent
from orchestrator.models.workflows import WorkflowVersion
from orchestrator.runtime.eager import start_now
from orchestrator.runtime.hub import AgentHub, AgentLink
from orchestrator.services import vault
from orchestrator.services.audit import Actor
from orchestrator.services.catalogue import graph_shape, step_registry
from orchestrator.services.credential_access import workflow_scope
from orchestrator.services.execution_journal import append_events, resume_seed
from orchestrator.services.execution_states import HELD, State, transition
from orchestrator.services.session_checkpoints import SessionCheckpoints
from orchestrator.services.subflow_versions import called_versions
from orchestrator.services.workflow_assets import job_assets
from shared.expressions import find_secret_refs
from shared.flow import GraphShape, find_credential_params, walk_nodes
from shared.protocol import JobAssign, WireEvent

log = logging.getLogger("rpa.orchestrator.dispatch")

DISPATCHER = Actor(id=None, name="dispatcher")
BATCH = 200
"""At most this many queued executions are read in one pass."""
PAGE_MIN = 16
TIMEOUT_MARGIN_S = 30.0
"""How long after a flow's `timeout_s` the orchestrator ends a run whose agent did not report the end."""
_HELD = tuple(sorted(state.value for state in HELD))


@dataclass(frozen=True)
class Needs:
    """What a version asks of the agent that runs it (versions are immutable: cached by id)."""

    capabilities: frozenset[str]
    labels: frozenset[str]
    steps: frozenset[str]
    max_concurrent: int | None
    secrets: frozenset[str]
    timeout_s: float | None

    @property
    def credentials(self) -> frozenset[str]:
        """The vault credentials behind the secrets (`secrets['erp.username']` reads credential `erp`)."""
        return frozenset(name.split(".", 1)[0] for name in self.secrets)

    @classmethod
    def of(cls, document: dict[str, Any], shape: GraphShape | None = None) -> Needs:
        """What a flow document needs of an agent; `shape` defaults to the catalogue's (`graph_shape()`)."""
        requires = [str(item) for item in document.get("requires") or []]
        settings = document.get("settings") or {}
        return cls(
            capabilities=frozenset(r for r in requires if not r.startswith("label:")),
            labels=frozenset(r.removeprefix("label:") for r in requires if r.startswith("label:")),
            steps=frozenset(
                visit.node["type"]
                for visit in walk_nodes(document, shape or graph_shape())
                if isinstance(visit.node.get("type"), str)
            ),
            max_concurrent=settings.get("max_concurrent_executions"),
            # What templates read (`secrets.erp`) and what step params name (`credential: erp`).
            secrets=frozenset(find_secret_refs(document))
            | frozenset(find_credential_params(document, step_registry())),
            timeout_s=settings.get("timeout_s"),
        )

    def fits(self, link: AgentLink) -> bool:
        """`link` can run this version (`unmet()` is empty); checked for every queued execution."""
        return (
            self.capabilities <= link.capabilities
            and self.labels <= link.labels
            and (not link.steps or self.steps <= link.steps)
        )

    def unmet(self, link: AgentLink) -> list[str]:
        """What `link` lacks for this version (empty when it can run it)."""
        missing = [f"capability '{c}'" for c in sorted(self.capabilities - link.capabilities)]
        missing += [f"label '{label}'" for label in sorted(self.labels - link.labels)]
        if link.steps:
            missing += [f"step '{s}'" for s in sorted(self.steps - link.steps)]
        return missing


class Choice:
    """The agents that can run one version, best first: the one with most free slots, then the one
    given least work so far, then the first in the list.

    A heap, so that a pass picks in O(log agents) per execution instead of comparing every agent
    (what that cost is in bench/README.md). An agent's place is brought up to
    date when it reaches the top: the one just picked, or one whose slots changed meanwhile. One
    whose slot freed while it sat lower down may wait for the next pass (which the freed slot
    starts) to be preferred."""

    def __init__(self, links: Iterable[AgentLink]) -> None:
        self._heap = [(-link.free, link.dispatched, index, link) for index, link in enumerate(links)]
        heapq.heapify(self._heap)

    def best(self) -> AgentLink | None:
        """The best agent with a free slot, or None."""
        heap = self._heap
        while heap:
            free, dispatched, index, link = heap[0]
            if free != -link.free or dispatched != link.dispatched:
                heapq.heapreplace(heap, (-link.free, link.dispatched, index, link))
                continue
            return link if link.free > 0 else None
        return None


# Built once (a pass runs it at least once): the queue in dispatch order, as records, without the
# columns a dispatch never reads (reading one by mistake raises at once).
_QUEUED = (
    select(*columns_except("trigger", "outputs", "credentials"))
    .where(Execution.state == State.QUEUED.value, Execution.org_id.in_(bindparam("orgs", expanding=True)))
    .order_by(Execution.priority.desc(), Execution.queued_at, Execution.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_QUEUED_SKIP_LOCKED = _QUEUED.with_for_update(skip_locked=True)


class Dispatcher:
    """The queue's single consumer in this process: a pass runs only at the end of a batch of
    the commit loop (`Finisher`), so a start and its dispatch share one transaction."""

    def __init__(self, db: Database, hub: AgentHub, keyring: Callable[[], Any], *, commits: CommitLoop) -> None:
        self.db = db
        self.hub = hub
        self.keyring = keyring
        self.checkpoints: SessionCheckpoints | None = None
        """Where the sessions' state of executions waits for a resume (set by the app)."""
        """Returns the vault's current master keys (they may rotate while the server runs)."""
        self._needs: dict[uuid.UUID, tuple[Needs, dict[str, Any]]] = {}
        self._assets: dict[uuid.UUID, dict[str, Any]] = {}
        """A version's assets as a job carries them (versions are immutable: cached for good)."""
        self._work = 1
        """Bumped whenever executions may have been queued; 0 once a pass found none left."""
        self._taken: list[tuple[AgentLink, uuid.UUID]] = []
        """The slots the pass in progress took, given back if its transaction is rolled back."""
        self._sending: set[asyncio.Task[None]] = set()
        self.commits = commits
        """Runs the passes, at the end of its batches; a kick before it runs waits for it."""

    def kick(self, work: bool = False) -> None:
        """Wake the dispatcher: `work` when executions were queued, else because capacity may
        have appeared (an agent connected, a slot freed up), which matters only if some wait."""
        if work:
            self._work += 1
        self.commits.request(self)

    # --- as the commit loop's finisher -------------------------------------------------------------

    def ready(self) -> bool:
        return bool(self._work) and self.hub.has_available()

    async def finish(self, session: AsyncSession) -> tuple[list[tuple[AgentLink, JobAssign]], bool]:
        return await self._pass(session)

    def committed(self, result: tuple[list[tuple[AgentLink, JobAssign]], bool]) -> None:
        sends, more = result
        self._taken.clear()
        if sends:  # written before the commit loop moves on, unless a socket makes them wait
            start_now(self._send(sends), keep=self._sending)
        if more:
            self.kick()

    def failed(self, error: BaseException | None) -> None:
        self._give_back()
        self._work += 1  # the pass may have found the queue empty in a transaction that is gone
        if error is None:  # a unit of the batch failed, not the pass: try again at once
            self.kick()
            return
        log.error("dispatch failed; retrying in 0.5 s", exc_info=error)
        asyncio.get_running_loop().call_later(0.5, self.kick)

    def _give_back(self) -> None:
        for link, execution_id in self._taken:
            link.drop(execution_id)
            link.dispatched -= 1
        self._taken.clear()

    async def _send(self, sends: list[tuple[AgentLink, JobAssign]]) -> None:
        for link, message in sends:
            try:
                await link.send(message)
            except Exception:  # the socket died: the lease reaper requeues what it held
                log.warning("could not send job.assign to agent %s", link.agent_id)

    async def _pass(self, session: AsyncSession) -> tuple[list[tuple[AgentLink, JobAssign]], bool]:  # noqa: C901
        """One pass in `session`'s transaction: the jobs to send once it is committed, and
        whether more may wait. The slots it takes are in `_taken` until then."""
        free = self.hub.available()
        if not self._work or not free:
            return [], False
        generation = self._work
        by_org: dict[uuid.UUID, list[AgentLink]] = {}
        for link in free:
            by_org.setdefault(link.org_id, []).append(link)
        sends: list[tuple[AgentLink, JobAssign]] = []
        assigned = scanned = 0
        # Pages sized to the free slots: a deep queue costs what can be assigned now, not BATCH rows.
        # Executions no free agent can take are skipped, and the next page is read, up to BATCH rows.
        page = min(BATCH, max(PAGE_MIN, 2 * sum(link.free for link in free)))
        exhausted = False
        query = _QUEUED if self.db.is_sqlite else _QUEUED_SKIP_LOCKED
        orgs = list({link.org_id for link in free})
        held: dict[uuid.UUID, int] = {}
        counted: set[uuid.UUID] = set()
        # The agents that can run a version, per version and organisation, found once per pass.
        fits: dict[tuple[int, uuid.UUID], Choice] = {}
        queued: list[ExecutionRecord] = []
        while scanned < BATCH and any(link.free > 0 for link in free):
            # Those assigned in this pass are no longer queued once written: the offset skips
            # only the ones left.
            await write_records(session, queued)
            queued = await read_records(session, query, {"orgs": orgs, "limit": page, "offset": scanned - assigned})
            exhausted = len(queued) < page
            scanned += len(queued)
            versions = {e.version_id: await self._needs_of(session, e.version_id) for e in queued}
            # Only a workflow with a concurrency limit needs its running executions counted.
            uncounted = {
                e.workflow_id for e in queued if versions[e.version_id][0].max_concurrent is not None
            } - counted
            if uncounted:
                held.update(await self._held_per_workflow(session, uncounted))
                counted |= uncounted
            for execution in queued:
                needs, document = versions[execution.version_id]
                if needs.max_concurrent is not None and held.get(execution.workflow_id, 0) >= needs.max_concurrent:
                    continue
                key = (id(needs), execution.org_id)  # a version's Needs is one object (cached)
                fitting = fits.get(key)
                if fitting is None:
                    fitting = fits[key] = Choice(link for link in by_org.get(execution.org_id, []) if needs.fits(link))
                chosen = fitting.best()
                if chosen is None:
                    continue
                message = await self._assign(session, execution, chosen, needs, document)
                assigned += 1  # dispatched, or failed for good: either way it no longer waits
                if message is None:
                    continue
                held[execution.workflow_id] = held.get(execution.workflow_id, 0) + 1
                sends.append((chosen, message))
            if exhausted:
                break
        await write_records(session, queued)
        if exhausted and assigned == scanned and self._work == generation:
            self._work = 0  # the queue is empty now; the next start or requeue says otherwise
        return sends, bool(sends) and not exhausted

    async def _held_per_workflow(self, session: AsyncSession, workflow_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
        columns = Execution.__table__.c  # table columns: runs as Core, no ORM compile state
        rows = await session.execute(
            select(columns.workflow_id, func.count())
            .where(columns.workflow_id.in_(workflow_ids), columns.state.in_(_HELD))
            .group_by(columns.workflow_id)
        )
        return {workflow_id: count for workflow_id, count in rows.all()}

    async def _needs_of(self, session: AsyncSession, version_id: uuid.UUID) -> tuple[Needs, dict[str, Any]]:
        cached = self._needs.get(version_id)
        if cached is None:
            version = await session.get(WorkflowVersion, version_id)
            document = dict(version.document) if version is not None else {}
            cached = self._needs[version_id] = (Needs.of(document), document)
        return cached

    async def _assets_of(self, session: AsyncSession, version_id: uuid.UUID) -> dict[str, Any]:
        cached = self._assets.get(version_id)
        if cached is None:
            version = await session.get(WorkflowVersion, version_id)
            cached = self._assets[version_id] = await job_assets(session, version) if version is not None else {}
        return cached

    async def _assign(
        self, session: AsyncSession, execution: ExecutionRecord, link: AgentLink, needs: Needs, document: dict[str, Any]
    ) -> JobAssign | None:
        """Give `execution` to `link`; None when it cannot run anywhere (it is failed instead)."""
        secrets: dict[str, str] = {}
        if needs.secrets:
            try:
                scope = await workflow_scope(session, execution.org_id, execution.workflow_id)
                values = await vault.reveal(
                    session,
                    execution.org_id,
                    needs.credentials,
                    self.keyring(),
                    actor=DISPATCHER,
                    purpose=f"execution {execution.id}",
                    workflow=scope,
                )
            except (NotFound, Forbidden) as missing:
                advice = (
                    "create it in the vault and retry the execution"
                    if isinstance(missing, NotFound)
                    else "widen its workflow scope or remove it from the flow"
                )
                execution.error = {"kind": "credentials", "message": f"{missing.message}; {advice}"}
                await transition(session, execution, State.FAILED, reason=missing.message, actor=DISPATCHER)
                return None
            secrets = vault.secrets_for_agent(values)
        try:
            subflows, subflow_assets = await self._subflows(session, execution.org_id, document)
        except (NotFound, Conflict) as missing:
            execution.error = {"kind": "subflow", "message": f"{missing.message}; publish it and retry the execution"}
            await transition(session, execution, State.FAILED, reason=missing.message, actor=DISPATCHER)
            return None
        execution.agent_id = link.agent_id
        if needs.timeout_s is not None:
            # The agent's engine times the run out itself; this backstop holds when the agent is gone.
            backstop = utcnow() + timedelta(seconds=needs.timeout_s + TIMEOUT_MARGIN_S)
            if execution.deadline_at is None or execution.deadline_at > backstop:
                execution.deadline_at = backstop
        await transition(
            session, execution, State.ASSIGNED, reason=f"dispatched to agent {link.name}", actor=DISPATCHER
        )
        link.hold(execution.id, execution.attempt, confirmed=False)
        link.dispatched += 1
        self._taken.append((link, execution.id))
        journal = await self._journal_of(session, execution)
        sessions = await self._sessions_of(session, execution, link) if journal else {}
        return JobAssign(
            execution_id=str(execution.id),
            attempt=execution.attempt,
            flow=document,
            subflows=subflows,
            inputs=dict(execution.inputs or {}),
            journal=journal,
            secrets=secrets,
            deadline_at=execution.deadline_at.timestamp() if execution.deadline_at else None,
            priority=execution.priority,
            sessions=sessions,
            assets=await self._assets_of(session, execution.version_id),
            subflow_assets=subflow_assets,
        )

    async def _sessions_of(
        self, session: AsyncSession, execution: ExecutionRecord, link: AgentLink
    ) -> dict[str, dict[str, Any]]:
        """The sessions' state a resumed execution had, for an agent that can take it (version 4)."""
        connection = link.connection
        if self.checkpoints is None or connection is None or connection.protocol_version < 4:
            return {}
        try:
            return await self.checkpoints.load(execution.org_id, execution.id, session)
        except Exception as exc:  # the vault or the store: the resume goes on, its sessions not restored
            log.warning("the sessions' state of execution %s could not be read (%s)", execution.id, type(exc).__name__)
            return {}

    async def _subflows(
        self, session: AsyncSession, org_id: uuid.UUID, document: dict[str, Any]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The published documents of every workflow a `flow.call` names, transitively, and the
        files of each that has some; pinned now, at dispatch (a resumed execution gets them again
        from its new dispatch)."""
        versions = await called_versions(session, org_id, document)
        assets = {name: await self._assets_of(session, version.id) for name, version in versions.items()}
        return (
            {name: dict(version.document) for name, version in versions.items()},
            {name: files for name, files in assets.items() if files},
        )

    async def _journal_of(self, session: AsyncSession, execution: ExecutionRecord) -> list[WireEvent]:
        if not execution.stored_seq and execution.resume_from is None:
            return []  # a first run: nothing journaled, nothing to resume
        rows = list(
            await session.scalars(
                select(ExecutionEvent).where(ExecutionEvent.execution_id == execution.id).order_by(ExecutionEvent.seq)
            )
        )
        if not rows and execution.resume_from is not None:
            parent = list(
                await session.scalars(
                    select(ExecutionEvent)
                    .where(ExecutionEvent.execution_id == execution.resume_from)
                    .order_by(ExecutionEvent.seq)
                )
            )
            seed = resume_seed(parent)
            if seed:
                await append_events(session, execution, seed, actor=DISPATCHER)
            return [WireEvent(**event) for event in seed]
        # Only the contiguous part: the agent continues after the last event it is given.
        return [
            WireEvent(seq=e.seq, type=e.type, path=e.path, data=e.data, ts=e.ts)
            for e in rows
            if e.seq <= execution.last_seq
        ]


async def why_waiting(session: AsyncSession, hub: AgentHub, execution: Execution) -> str | None:
    """Why a queued execution has not been dispatched, in a sentence (None when not queued); for
    one requeued from an agent that is not back, also that this agent would go on with it."""
    if execution.state != State.QUEUED.value:
        return None
    reason = await _why_queued(session, hub, execution)
    previous = execution.previous_agent_id
    if previous is not None and hub.link_of(previous) is None:
        agent = await session.get(Agent, previous)
        if agent is not None:
            reason += (
                f"; agent {agent.name}, which it was requeued from, goes on with it if it comes back "
                "before another agent takes it"
            )
    return reason


async def _why_queued(session: AsyncSession, hub: AgentHub, execution: Execution) -> str:
    version = await session.get(WorkflowVersion, execution.version_id)
    needs = Needs.of(dict(version.document) if version is not None else {})
    if needs.max_concurrent is not None:
        held = await session.scalar(
            select(func.count()).where(Execution.workflow_id == execution.workflow_id, Execution.state.in_(_HELD))
        )
        if (held or 0) >= needs.max_concurrent:
            return f"the workflow's concurrency limit ({needs.max_concurrent}) is reached"
    links = [link for link in hub.links.values() if link.org_id == execution.org_id]
    if not links:
        return "no agent of the organisation is online"
    lacking = {link.name: needs.unmet(link) for link in links}
    capable = [link for link in links if not lacking[link.name]]
    if not capable:
        first = sorted({item for items in lacking.values() for item in items})
        return f"no online agent has {', '.join(first)}"
    if all(hub.late(link) > 0 for link in capable):
        return "every matching agent is unresponsive"
    if all(link.free <= 0 for link in capable):
        return f"all {len(capable)} matching agent(s) are busy"
    return "waiting for its turn in the queue (higher priority or older executions first)"
