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

__all__ = ["ACTIVE_STATES", "HELD_STATES", "TERMINAL_STATES", "ExecutionState", "TerminalState"]


class ExecutionState(StrEnum):
    """Where an execution is in its life."""

    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    LOST = "lost"


TerminalState = Literal["succeeded", "failed", "cancelled", "timed_out"]
"""How an execution ends (a finished engine run, `job.finished`): the terminal states as a type."""

TERMINAL_STATES: frozenset[ExecutionState] = frozenset(ExecutionState(name) for name in get_args(TerminalState))
"""States with no way out: the execution is over."""

ACTIVE_STATES: frozenset[ExecutionState] = frozenset(ExecutionState) - TERMINAL_STATES
"""States of an execution that is not over yet."""

HELD_STATES: frozenset[ExecutionState] = frozenset(
    {ExecutionState.ASSIGNED, ExecutionState.RUNNING, ExecutionState.PAUSED})
"""States in which an agent holds the execution (its lease runs, it counts against the agent's slots)."""
