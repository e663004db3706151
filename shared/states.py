"""The states of an execution, defined once for the engine, the protocol, the orchestrator, the
agent and the `rpa` command.

    queued → assigned → running → (paused) → succeeded | failed | cancelled | timed_out
    lost → queued (requeued with its journal)

Which moves are allowed, and what each does, is the orchestrator's business
(`orchestrator/services/execution_states.py`); this module only names the states and the two
groups every side asks about: is it over, and is an agent holding it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

__all__ = ["HELD_STATES", "TERMINAL_STATES", "ExecutionStatus", "TerminalStatus"]


class ExecutionStatus(StrEnum):
    """Where an execution is in its life: the `state` field of an execution in the API.

    (Not `shared.engine.ExecutionState`, which is what the engine folds a journal into.)"""

    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    LOST = "lost"


TerminalStatus = Literal["succeeded", "failed", "cancelled", "timed_out"]
"""How an execution ends (a finished engine run, `job.finished`): the terminal states as a type."""

TERMINAL_STATES: frozenset[ExecutionStatus] = frozenset(ExecutionStatus(name) for name in get_args(TerminalStatus))
"""States with no way out: the execution is over."""

HELD_STATES: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.ASSIGNED, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED}
)
"""States in which an agent holds the execution (its lease runs, it counts against the agent's slots)."""
