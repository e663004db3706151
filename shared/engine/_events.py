"""Journal events: every state change of an execution, in order.

An event is `(seq, type, path, data, ts)`. `path` names a node instance with its loop indices
(`each_line[3]/fill_form`); execution-level events have the empty path. The types, and what
`data` carries:

| type                 | data                                                        |
|----------------------|-------------------------------------------------------------|
| execution.started    | execution_id, flow, inputs, variables                       |
| node.started         | attempt, key (idempotency key), type; containers: items     |
| node.succeeded       | output, port                                                |
| node.failed          | attempt, error, will_retry, retry_in_s (if retried); handled (continue / fallback) |
| node.skipped         | reason (`branch`, `error` or `disabled`), port (`out` when skipped on error or disabled) |
| branch.taken         | port                                                        |
| iteration.started    | index                                                       |
| iteration.finished   | index, result                                               |
| variable.set         | scope, name, value                                          |
| log                  | level, message (not a state change; never folded)          |
| node.note            | kind, and its facts (`healed`: old and new selector, score); only `restart.point` is folded |
| node.restarted       | scope, from (the restart point's path), rerun (node paths run again), reason (`_restart.py`) |
| execution.finished   | status, outputs, error                                      |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

EXECUTION_STARTED = "execution.started"
NODE_STARTED = "node.started"
NODE_SUCCEEDED = "node.succeeded"
NODE_FAILED = "node.failed"
NODE_SKIPPED = "node.skipped"
BRANCH_TAKEN = "branch.taken"
ITERATION_STARTED = "iteration.started"
ITERATION_FINISHED = "iteration.finished"
VARIABLE_SET = "variable.set"
LOG = "log"
NODE_NOTE = "node.note"
NODE_RESTARTED = "node.restarted"
EXECUTION_FINISHED = "execution.finished"

EVENT_TYPES = (
    EXECUTION_STARTED,
    NODE_STARTED,
    NODE_SUCCEEDED,
    NODE_FAILED,
    NODE_SKIPPED,
    BRANCH_TAKEN,
    ITERATION_STARTED,
    ITERATION_FINISHED,
    VARIABLE_SET,
    LOG,
    NODE_NOTE,
    NODE_RESTARTED,
    EXECUTION_FINISHED,
)

ARTIFACT_REF = "$artifact"
"""Key of the reference that replaces an output too large to journal inline."""


@dataclass(frozen=True, slots=True)
class Event:
    """One journal entry."""

    seq: int
    type: str
    path: str
    data: dict[str, Any]
    ts: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by `--json` output and the wire protocol)."""
        return {"seq": self.seq, "type": self.type, "path": self.path, "data": self.data, "ts": self.ts}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        """Inverse of `to_dict`."""
        return cls(int(raw["seq"]), str(raw["type"]), str(raw["path"]), dict(raw["data"]), float(raw["ts"]))


_SETTERS: tuple[Callable[[Event, Any], None], ...] = tuple(getattr(Event, f.name).__set__ for f in fields(Event))
_new = object.__new__


def make_event(seq: int, type: str, path: str, data: dict[str, Any], ts: float) -> Event:
    """`Event(seq, type, path, data, ts)` in half the time, for the journals' hot path.

    A frozen dataclass's `__init__` sets each field through `object.__setattr__`; the slots'
    own setters do the same job without that detour. The result is an ordinary, still frozen,
    `Event`.
    """
    event = _new(Event)
    seq_, type_, path_, data_, ts_ = _SETTERS
    seq_(event, seq)
    type_(event, type)
    path_(event, path)
    data_(event, data)
    ts_(event, ts)
    return event
