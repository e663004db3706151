"""Which execution actions a state allows: one table, read by the buttons and by the tests.

The orchestrator decides for real (`orchestrator/services/execution_states.py`); this table
only keeps buttons that would be refused greyed out. Cancel works until the execution ends;
retry runs a finished one again; resume (retry with `resume=true`) continues the journal of one
that did not succeed.
"""

from __future__ import annotations

from shared.states import TERMINAL_STATES, ExecutionStatus

ACTIONS: dict[str, frozenset[str]] = {
    "cancel": frozenset(ExecutionStatus) - TERMINAL_STATES,
    "retry": frozenset(TERMINAL_STATES),
    "resume": TERMINAL_STATES - {ExecutionStatus.SUCCEEDED},
    "diagnose": frozenset({"failed"}),
}
"""Action name -> the execution states it is enabled in."""


def is_terminal(state: str) -> bool:
    """Whether an execution in `state` is over (`shared.states.TERMINAL_STATES`)."""
    return state in TERMINAL_STATES


def allowed(state: str) -> dict[str, bool]:
    """Each action of `ACTIONS` and whether an execution in `state` allows it."""
    return {name: state in states for name, states in ACTIONS.items()}
