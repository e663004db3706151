"""Intake of attended runs: executions an agent created itself (`execution.report`, protocol 5).

A person started a flow on the agent's machine (a hotkey, the tray's menu), perhaps while the
orchestrator was unreachable; the agent ran it with the version it had cached and reports it
from its outbox before its journal. The orchestrator records it as any other execution (same
table, same state machine, the journal through the same `journal` messages): created `queued`
by the user, `assigned` to the reporting agent and `running`, all in one transaction.

Who may report what:
- the workflow and its version must be the agent's organisation's (another tenant's is as
  unknown as a missing one);
- the user named in the report (the one signed in to the tray) must be an active member of that
  organisation whose role holds `executions:start`, and the credentials the version reads must be
  allowed to that role, as for a start through the API; a report without a user is refused;
- the id must be new, or already this agent's attended run of the same workflow: the same report
  again (a reconnect, a lost answer) is answered `accepted` and records nothing twice; an id of any
  other execution is refused with the reason.

An attended run lives on its agent's machine only: it is never requeued to another agent (a
person started it there), neither when the agent reconnects without it nor by the lease reaper.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.session import Database
from orchestrator.errors import ApiError
from orchestrator.models.executions import Execution
from orchestrator.models.identity import Membership, Role, User
from orchestrator.runtime.hub import AgentLink
from orchestrator.security.permissions import Permission
from orchestrator.services.audit import Actor
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import prepare_start, queue_new
from shared.protocol import ATTENDED_TRIGGERS, ExecutionRecorded, ExecutionReport

__all__ = ["ATTENDED_TRIGGERS", "ReportRefused", "record_report"]

log = logging.getLogger("rpa.orchestrator.agents")


class ReportRefused(Exception):
    """Why a report is not recorded (sent back to the agent as `execution.recorded.reason`)."""


async def record_report(db: Database, link: AgentLink, report: ExecutionReport) -> ExecutionRecorded:
    """Record the attended execution an agent reports, once.

    Args:
        db: the orchestrator's database.
        link: the reporting agent's connection (its id, organisation and name).
        report: the agent's report.

    Returns:
        `execution.recorded`, accepted (recorded now or before) or refused with the reason.
    """
    try:
        async with db.transaction() as session:
            execution_id = uuid.UUID(report.execution_id)
            existing = await session.get(Execution, execution_id, with_for_update=True)
            if existing is not None:
                _check_same_run(existing, link, report)
                return ExecutionRecorded(execution_id=report.execution_id, accepted=True)
            user, role = await _starter(session, link.org_id, report.user_id)
            new = await prepare_start(
                session,
                org_id=link.org_id,
                actor=user,
                workflow_id=uuid.UUID(report.workflow_id),
                version=report.version,
                inputs=dict(report.inputs),
                trigger=str(report.trigger["type"]),
                role=role,
                execution_id=execution_id,
            )
            new.execution.trigger = {
                **report.trigger,
                "attended": True,
                "by": {"id": str(user.id), "name": user.name},
                "agent": {"id": str(link.agent_id), "name": link.name},
                "started_at": report.started_at,
            }
            await queue_new(session, [new])
            execution = await session.get(Execution, execution_id)
            assert execution is not None  # inserted just now, in this transaction
            agent = Actor(id=link.agent_id, name=f"agent:{link.name}")
            execution.agent_id = link.agent_id
            await transition(
                session, execution, State.ASSIGNED, reason=f"started on agent {link.name}'s machine", actor=agent
            )
            await transition(
                session, execution, State.RUNNING, reason="an attended run, reported by its agent", actor=agent
            )
    except ReportRefused as refused:
        return _refused(link, report, str(refused))
    except ApiError as err:
        return _refused(link, report, err.message)
    link.hold(execution_id, 1)
    log.info("agent %s reported attended execution %s (%s)", link.name, execution_id, report.trigger["type"])
    return ExecutionRecorded(execution_id=report.execution_id, accepted=True)


def _refused(link: AgentLink, report: ExecutionReport, reason: str) -> ExecutionRecorded:
    log.warning("agent %s: report of execution %s refused: %s", link.name, report.execution_id, reason)
    return ExecutionRecorded(execution_id=report.execution_id, accepted=False, reason=reason[:2000])


def _check_same_run(existing: Execution, link: AgentLink, report: ExecutionReport) -> None:
    """The same report again is fine; anything else under that id is refused."""
    if (
        existing.org_id != link.org_id
        or existing.agent_id != link.agent_id
        or not (existing.trigger or {}).get("attended")
        or str(existing.workflow_id) != report.workflow_id
    ):
        raise ReportRefused(f"execution id {report.execution_id} is already another execution's; not recorded")


async def _starter(session: AsyncSession, org_id: uuid.UUID, user_id: str | None) -> tuple[Actor, str]:
    """The user the report names, with their role, once they may start executions in the org."""
    if user_id is None:
        raise ReportRefused("an attended run must name the user who started it (sign in to the tray)")
    try:
        uid = uuid.UUID(user_id)
    except ValueError:
        raise ReportRefused("the user id is not a UUID") from None
    row = (
        await session.execute(
            select(User.email, Role.name, Role.permissions)
            .join(Membership, Membership.user_id == User.id)
            .join(Role, Role.id == Membership.role_id)
            .where(
                User.id == uid,
                User.is_active.is_(True),
                Membership.org_id == org_id,
                Membership.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        raise ReportRefused(f"user {user_id} is not an active member of this agent's organisation")
    email, role, permissions = row
    if Permission.EXECUTIONS_START.value not in (permissions or []):
        raise ReportRefused(f"user {email} (role {role}) may not start executions")
    return Actor(id=uid, name=str(email)), str(role)
