"""Execution states and the rules that move an execution between them.

Every state change goes through `transition()`: it finds the rule for FROM → TO, checks the
rule's guard, applies its effect (timestamps, attempt counter), and records the change in the
`execution_transitions` history (who, why, when). Nothing else assigns `Execution.state` (the
creation of an execution records its first state with `enter()`). The audit log keeps what
people asked for (`execution.start`, `execution.cancel`, `execution.retry`, written by
`services/executions.py`); what agents, the dispatcher and the lease reaper did is history.

    from        may go to
    queued      assigned (guard: agent_id is set), cancelled, timed_out, failed (cannot be dispatched),
                running (reclaim, guard: agent_id is the agent it was requeued from)
    assigned    running, cancelled, timed_out, lost
    running     paused, succeeded, failed, cancelled, timed_out, lost
    paused      running, cancelled, timed_out, lost
    lost        queued (requeue: attempt + 1, agent cleared and kept as previous_agent_id), cancelled,
                timed_out
    succeeded, failed, cancelled, timed_out: terminal, no way out

Callers that may race (agents, the dispatcher, the API) lock the execution row first
(`get_execution(..., for_update=True)`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from orchestrator.db.base import new_id, utcnow
from orchestrator.db.session import defer_insert
from orchestrator.errors import Conflict
from orchestrator.models.execution_records import AnyExecution, ExecutionRecord
from orchestrator.models.executions import ExecutionTransition
from orchestrator.services.audit import Actor
from shared.states import HELD_STATES, TERMINAL_STATES, ExecutionStatus

State = ExecutionStatus
"""The states are defined once, in `shared.states`; the orchestrator calls them `State`."""
TERMINAL = TERMINAL_STATES
HELD = HELD_STATES


class IllegalTransition(Conflict):
    """The execution cannot go from its state to the one asked for (409)."""

    code = "illegal_transition"


Guard = Callable[[AnyExecution], str | None]
"""Returns why the move is refused, or None to allow it."""
Effect = Callable[[AnyExecution, datetime], None]


def _no_guard(_: AnyExecution) -> str | None:
    return None


def _no_effect(_: AnyExecution, __: datetime) -> None:
    return None


@dataclass(frozen=True)
class Rule:
    """One allowed move: from any of `sources` to `target`."""

    name: str
    sources: frozenset[State]
    target: State
    why: str
    guard: Guard = _no_guard
    effect: Effect = _no_effect


def _needs_agent(execution: AnyExecution) -> str | None:
    return None if execution.agent_id is not None else "an assigned execution must name its agent (agent_id)"


def _assigned(execution: AnyExecution, now: datetime) -> None:
    execution.assigned_at = now


def _started(execution: AnyExecution, now: datetime) -> None:
    # Resuming after a pause keeps the first start time.
    if execution.started_at is None:
        execution.started_at = now


def _finished(execution: AnyExecution, now: datetime) -> None:
    execution.finished_at = now


def _back_on_previous_agent(execution: AnyExecution) -> str | None:
    if execution.agent_id is not None and execution.agent_id == execution.previous_agent_id:
        return None
    return "only the agent it was requeued from may reclaim it (agent_id must be previous_agent_id)"


def _reclaimed(execution: AnyExecution, now: datetime) -> None:
    # The agent never stopped the run; the requeue cleared its start, so the run counts from here.
    execution.assigned_at = execution.started_at = now


def _requeued(execution: AnyExecution, now: datetime) -> None:
    execution.attempt += 1
    execution.previous_agent_id = execution.agent_id
    execution.agent_id = None
    execution.assigned_at = None
    execution.started_at = None
    execution.queued_at = now


RULES: tuple[Rule, ...] = (
    Rule(
        "assign", frozenset({State.QUEUED}), State.ASSIGNED, "a dispatcher gave it to an agent", _needs_agent, _assigned
    ),
    Rule(
        "refuse",
        frozenset({State.QUEUED}),
        State.FAILED,
        "it cannot be dispatched (e.g. a credential it reads does not exist)",
        effect=_finished,
    ),
    Rule("start", frozenset({State.ASSIGNED}), State.RUNNING, "its agent started it", effect=_started),
    Rule("pause", frozenset({State.RUNNING}), State.PAUSED, "it waits (e.g. for a person)"),
    Rule("resume", frozenset({State.PAUSED}), State.RUNNING, "it goes on after a pause", effect=_started),
    Rule("succeed", frozenset({State.RUNNING}), State.SUCCEEDED, "its agent reported success", effect=_finished),
    Rule("fail", frozenset({State.RUNNING}), State.FAILED, "its agent reported a failure", effect=_finished),
    Rule(
        "cancel",
        frozenset({State.QUEUED, State.LOST}) | HELD,
        State.CANCELLED,
        "someone cancelled it",
        effect=_finished,
    ),
    Rule(
        "time_out",
        frozenset({State.QUEUED, State.LOST}) | HELD,
        State.TIMED_OUT,
        "its deadline or timeout passed",
        effect=_finished,
    ),
    Rule("lose", HELD, State.LOST, "its agent stopped answering"),
    Rule("requeue", frozenset({State.LOST}), State.QUEUED, "it waits for another agent", effect=_requeued),
    Rule(
        "reclaim",
        frozenset({State.QUEUED}),
        State.RUNNING,
        "the agent it was requeued from came back before another agent took it, and goes on with it",
        _back_on_previous_agent,
        _reclaimed,
    ),
)

_BY_MOVE: dict[tuple[State, State], Rule] = {(source, rule.target): rule for rule in RULES for source in rule.sources}


def allowed_targets(state: str | State) -> list[State]:
    """The states an execution in `state` may move to, in declaration order."""
    current = State(state)
    return [rule.target for rule in RULES if current in rule.sources]


def rule_for(source: str | State, target: str | State) -> Rule:
    """The rule for a move, or `IllegalTransition` naming FROM, TO and the allowed targets."""
    current, wanted = State(source), State(target)
    rule = _BY_MOVE.get((current, wanted))
    if rule is None:
        allowed = allowed_targets(current)
        listed = ", ".join(f"'{s}'" for s in allowed) if allowed else f"none ('{current}' is terminal)"
        raise IllegalTransition(
            f"an execution cannot go from '{current}' to '{wanted}'; from '{current}' it may go to: {listed}",
            details={"from": current.value, "to": wanted.value, "allowed": [s.value for s in allowed]},
        )
    return rule


@dataclass(frozen=True)
class Recorded:
    """A history row `transition()` recorded (written with the session's next flush)."""

    seq: int
    from_state: str
    to_state: str
    reason: str
    actor_id: uuid.UUID | None
    actor: str
    at: datetime


_HISTORY = cast(Table, ExecutionTransition.__table__)

Listener = Callable[[uuid.UUID, uuid.UUID, str, Any], None]
"""Told `(execution_id, org_id, state, outputs)` once a move to a state in `ANNOUNCED` is
committed; `outputs` is what the end stored, or `UNKNOWN` (not an end, or not in hand)."""
UNKNOWN: Any = object()
"""The outputs of an announced move that the mover did not have in hand."""
LISTENERS: list[Listener] = []
"""Who hears of executions that started or ended (the trigger framework's event bus registers
here: this layer may not import it). Called after the commit, never for a rolled-back move; a
listener must only queue the news (it runs on the committing task)."""
ANNOUNCED = frozenset({State.RUNNING, *TERMINAL_STATES})
_NEWS = "rpa.execution_news"


def _tell(session: Session) -> None:
    news = session.info.pop(_NEWS, None)
    if news:
        for listener in tuple(LISTENERS):
            for item in news:
                listener(*item)


def _forget(session: Session) -> None:
    session.info.pop(_NEWS, None)


event.listen(Session, "after_commit", _tell)
event.listen(Session, "after_rollback", _forget)


async def transition(
    session: AsyncSession, execution: AnyExecution, to: str | State, *, reason: str, actor: Actor
) -> Recorded:
    """Move `execution` to `to`, the one place where states change.

    Raises:
        IllegalTransition: the move is not in the table, or its guard refuses it.
    """
    source = State(execution.state)
    rule = rule_for(source, to)
    refusal = rule.guard(execution)
    if refusal is not None:
        raise IllegalTransition(
            f"an execution cannot go from '{source}' to '{rule.target}': {refusal}",
            code="transition_refused",
            details={"from": source.value, "to": rule.target.value, "reason": refusal},
        )
    now = utcnow()
    rule.effect(execution, now)
    execution.state = rule.target.value
    execution.updated_at = now
    # As a row, not an object: written with the next flush, after the execution's own update.
    execution.history_seq = (execution.history_seq or 0) + 1
    row = _history(execution, source, rule.target, reason or rule.why, actor, now)
    defer_insert(session, _HISTORY, row)
    if LISTENERS and rule.target in ANNOUNCED and rule.name != "resume":
        outputs = _outputs_in_hand(execution) if rule.target in TERMINAL_STATES else UNKNOWN
        session.sync_session.info.setdefault(_NEWS, []).append(
            (execution.id, execution.org_id, rule.target.value, outputs)
        )
    return Recorded(row["seq"], source.value, rule.target.value, row["reason"], actor.id, actor.name, now)


def _outputs_in_hand(execution: AnyExecution) -> Any:
    """The execution's outputs if they were read or set (the journal's end sets them just before
    its move): never a query (an ORM attribute not loaded would load)."""
    if isinstance(execution, ExecutionRecord):
        return getattr(execution, "outputs", UNKNOWN)
    return execution.__dict__.get("outputs", UNKNOWN)


def enter(execution: AnyExecution, state: State, *, reason: str, actor: Actor) -> dict[str, Any]:
    """Give a new execution (not stored yet) its first state (queued); returns its first history
    row (every column), to be inserted after the execution (it refers to it)."""
    if execution.state:
        raise IllegalTransition(f"the execution is already '{execution.state}'; use transition()")
    now = utcnow()
    execution.state = state.value
    if state is State.QUEUED:
        execution.queued_at = now
    # The execution row is new (or, in transition(), locked by the caller), so its counter numbers
    # the history without a query.
    execution.history_seq = (execution.history_seq or 0) + 1
    return _history(execution, None, state, reason, actor, now)


def _history(
    execution: AnyExecution, source: State | None, target: State, reason: str, actor: Actor, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "org_id": execution.org_id,
        "execution_id": execution.id,
        "seq": execution.history_seq,
        "from_state": source.value if source else None,
        "to_state": target.value,
        "reason": reason[:500],
        "actor_id": actor.id,
        "actor": actor.name,
        "at": now,
    }
