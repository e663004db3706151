"""The lease reaper: executions held by agents that are gone, deadlines, forced cancels.

An assigned or running execution stays with its agent while the agent is connected and
heartbeating. Once the agent has been gone (or silent) for `agent_grace_s` (the lease it is told in
`welcome` and every `heartbeat.ack`) plus `margin_s`, its executions are requeued (held → lost →
queued, attempt + 1) with their journal, and the next matching agent resumes them; the old agent,
should it come back, is told to stop them (`welcome.stop`).

The same pass also ends executions whose deadline passed (timed_out, even with no agent
around), and executions whose cancel request the agent did not honour within `cancel_grace_s`.
After an orchestrator restart no agent is connected yet: the grace counts from the process's
start, so agents that reconnect in time keep their executions (recovery at start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.background import BackgroundService
from orchestrator.db.base import utcnow
from orchestrator.db.session import Database
from orchestrator.models.executions import Execution
from orchestrator.runtime.hub import AgentHub, AgentLink
from orchestrator.services.audit import Actor
from orchestrator.services.execution_states import HELD, State, transition
from shared.protocol import ATTENDED_TRIGGERS, JobCancel, JobStop

log = logging.getLogger("rpa.orchestrator.leases")

REAPER = Actor(id=None, name="lease-reaper")
_HELD = tuple(sorted(state.value for state in HELD))
_SCAN = select(
    Execution.id,
    Execution.state,
    Execution.agent_id,
    Execution.deadline_at,
    Execution.cancel_requested_at,
    Execution.assigned_at,
    Execution.trigger_type,
).where(
    Execution.state.in_((*_HELD, State.QUEUED.value, State.LOST.value)),
    or_(Execution.state.in_(_HELD), Execution.deadline_at.is_not(None)),
)
"""What a pass decides on, built once (it runs every `interval_s`)."""


class LeaseReaper(BackgroundService):
    """One pass per `interval_s`; every decision re-checked under the row lock."""

    name = "lease-reaper"

    def __init__(
        self,
        db: Database,
        hub: AgentHub,
        *,
        grace_s: float,
        cancel_grace_s: float,
        assign_timeout_s: float = 5.0,
        margin_s: float = 0.0,
        interval_s: float = 0.5,
    ) -> None:
        self.db = db
        self.hub = hub
        self.grace_s = grace_s
        self.cancel_grace_s = cancel_grace_s
        self.assign_timeout_s = assign_timeout_s
        self.margin_s = margin_s
        """Added to the grace (the lease agents are told) before an execution is handed on."""
        self.interval_s = interval_s

    async def _run(self) -> None:
        while True:
            try:
                await self.reap_once()
            except Exception:
                log.exception("lease reaper pass failed")
            await asyncio.sleep(self.interval_s)

    async def reap_once(self) -> int:
        """One pass; returns how many executions it moved.

        Every held execution is looked at on every pass, so the scan reads only the columns the
        decision needs (a Core select: no ORM objects, no JSON columns). Most held executions are
        on a connected agent and need nothing; only the ones that do are loaded whole, locked, and
        decided again under the lock."""
        await self._close_silent_agents()
        now = utcnow()
        moved = 0
        async with self.db.transaction() as session:
            due = [row.id for row in await session.execute(_SCAN) if self._action(row, now) is not None]
            if not due:
                return 0
            candidates = list(
                await session.scalars(
                    select(Execution).where(Execution.id.in_(due)).order_by(Execution.id).with_for_update()
                )
            )
            requeued = False
            for execution in candidates:
                action = self._action(execution, now)
                if action == "deadline":
                    await transition(session, execution, State.TIMED_OUT, actor=REAPER, reason="its deadline passed")
                    await self._tell_holder(
                        execution, JobCancel(execution_id=str(execution.id), force=True, reason="deadline passed")
                    )
                elif action == "cancel":
                    await transition(
                        session,
                        execution,
                        State.CANCELLED,
                        actor=REAPER,
                        reason=f"its agent did not stop within {self.cancel_grace_s:g} s of the cancel",
                    )
                    await self._tell_holder(
                        execution, JobCancel(execution_id=str(execution.id), force=True, reason="cancelled")
                    )
                elif action == "requeue":
                    await transition(
                        session,
                        execution,
                        State.LOST,
                        actor=REAPER,
                        reason=f"its agent was gone for more than its lease ({self.grace_s:g} s) "
                        f"and the margin ({self.margin_s:g} s)",
                    )
                    await transition(
                        session,
                        execution,
                        State.QUEUED,
                        actor=REAPER,
                        reason="requeued with its journal for the next matching agent",
                    )
                    link = self.hub.link_of(execution.agent_id)
                    if link is not None:  # connected, but no longer holds it (e.g. it rejected it)
                        link.drop(execution.id)
                    requeued = True
                elif action == "unconfirmed":
                    await self._requeue_unconfirmed(session, execution)
                    requeued = True
                else:
                    continue
                moved += 1
        if requeued:
            self.hub.on_free(work=True)
        return moved

    def _action(self, execution: Any, now: datetime) -> str | None:
        """What the pass does with an execution (a scanned row or the locked object): "deadline",
        "cancel", "requeue", or None."""
        if execution.deadline_at is not None and execution.deadline_at <= now:
            return "deadline"
        if execution.state not in _HELD:
            return None
        if execution.cancel_requested_at is not None and now - execution.cancel_requested_at > timedelta(
            seconds=self.cancel_grace_s
        ):
            return "cancel"
        link = self.hub.link_of(execution.agent_id)
        if link is not None:
            if execution.state == State.ASSIGNED.value and self._unconfirmed(link, execution, now):
                return "unconfirmed"
            if execution.id in link.running:
                return None
        if self.hub.gone_for(execution.agent_id) < self.grace_s + self.margin_s:
            return None
        if execution.trigger_type in ATTENDED_TRIGGERS:
            return None  # a person started it on that machine: it waits there, never runs elsewhere
        return "requeue"

    def _unconfirmed(self, link: AgentLink, execution: Any, now: datetime) -> bool:
        """An assignment its connected agent has not confirmed within `assign_timeout_s`: the
        `job.assign` was lost (or went to a connection of the agent that has since been replaced).
        Not judged while the agent shakes hands: its `hello` says what it holds."""
        if self.hub.shaking_hands(link.agent_id):
            return False
        if execution.id in link.running:
            sent = link.unconfirmed.get(execution.id)
            if sent is None:
                return False
            since, beats = sent
            # Two heartbeats read since, neither naming it: the connection carries the agent's frames,
            # so this is no reader of ours lagging behind a `job.accepted` already on its way.
            return time.monotonic() - since > self.assign_timeout_s and link.beats >= beats + 2
        return execution.assigned_at is not None and now - execution.assigned_at > timedelta(
            seconds=self.assign_timeout_s
        )

    async def _requeue_unconfirmed(self, session: AsyncSession, execution: Execution) -> None:
        link = self.hub.link_of(execution.agent_id)
        name = link.name if link is not None else str(execution.agent_id)
        log.warning(
            "agent %s did not confirm execution %s within %g s of its assignment; requeued",
            name,
            execution.id,
            self.assign_timeout_s,
        )
        await transition(
            session,
            execution,
            State.LOST,
            actor=REAPER,
            reason=f"agent {name} did not confirm the job within {self.assign_timeout_s:g} s (the job.assign was lost)",
        )
        await transition(
            session,
            execution,
            State.QUEUED,
            actor=REAPER,
            reason="requeued with its journal for the next matching agent",
        )
        if link is not None and execution.id in link.running:
            link.drop(execution.id)
            with contextlib.suppress(Exception):  # should the job arrive late after all, it is no longer its own
                await link.send(JobStop(execution_id=str(execution.id), reason="moved"))

    async def _close_silent_agents(self) -> None:
        """An agent unresponsive (missed heartbeats) for longer than the grace is treated as gone
        since it became unresponsive: its socket is closed and its executions requeued."""
        now = time.monotonic()
        for link in list(self.hub.links.values()):
            late = self.hub.late(link, now)
            if late > self.grace_s:
                log.warning("agent %s missed its heartbeats; closing its connection", link.name)
                await self.hub.disconnect(link.agent_id, reason="missed heartbeats", code=4408, gone_since=now - late)

    async def _tell_holder(self, execution: Execution, message: JobCancel | JobStop) -> None:
        link = self.hub.holder_of(execution.id)
        if link is None:
            return
        link.drop(execution.id)
        with contextlib.suppress(Exception):
            await link.send(message)
        self.hub.on_free()
