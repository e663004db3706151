"""Restart from a point: run a scope's steps again when its live state cannot be brought back.

Some state lives outside the journal: a browser session, a desktop application's window. When
an execution resumes in a fresh process and such a state cannot be restored, the steps that
built it have to run again. The mechanism, in three parts:

1. A step that opens such a scope marks itself its restart point: it notes
   `context().note("restart.point", {"scope": "browser:main"})` (a `node.note` the fold keeps).
2. A later step that finds the scope gone raises `RestartFrom(scope, message, kind=...)`.
3. The engine honours it once per scope per run of the execution (a fresh resume may honour it
   again) when the scope's restart point is a node of the same graph as the raising step: it
   journals `node.restarted` on the raising step (`scope`, `from`: the restart point's path,
   `rerun`: every node instance it runs again) and runs those nodes again: the restart point,
   the raising step and every node on a path between them. Their finished results are
   forgotten (`fold` reads `node.restarted` the same way), so they run live with their usual
   idempotency keys; nodes that ran in parallel with them in that graph are stopped and run
   again too (at-least-once).

Not honoured (no restart point for the scope, one already honoured in this run, or a restart
point in another graph), `RestartFrom` is the plain `StepError` it also is: the step fails
with its message and kind, e.g. `no_session` naming the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shared.errors import StepError

__all__ = ["RESTART_POINT", "RestartFrom", "Rewind", "forget_rerun", "rerun_ids"]

RESTART_POINT = "restart.point"
"""The `node.note` kind that marks a node as the restart point of a scope (`data.scope`)."""


class RestartFrom(StepError):
    """Raised by a step: run the steps of `scope` again from its restart point.

    Args:
        scope: the scope the restart point was noted for, e.g. `browser:main`.
        message: the error when the engine does not honour the restart.
        kind: that error's kind.
    """

    default_retryable = False

    def __init__(self, scope: str, message: str, *, kind: str = "restart", details: dict[str, object] | None = None):
        super().__init__(message, kind=kind, retryable=False, details={**(details or {}), "scope": scope})
        self.scope = scope


class Rewind(Exception):
    """Internal: the graph at `prefix` runs again, its nodes `rerun` forgotten."""

    def __init__(self, prefix: str) -> None:
        super().__init__(f"restart in graph '{prefix}'")
        self.prefix = prefix


def rerun_ids(outgoing: Mapping[str, list[tuple[str, str]]], start: str, end: str) -> list[str]:
    """The nodes of one graph on a path from `start` to `end`, both included, in `outgoing` order."""
    forward = _reach(start, lambda n: (t for _, t in outgoing.get(n, [])))
    incoming: dict[str, list[str]] = {}
    for source, edges in outgoing.items():
        for _, target in edges:
            incoming.setdefault(target, []).append(source)
    backward = _reach(end, lambda n: incoming.get(n, []))
    return [n for n in outgoing if n in forward and n in backward] or [start, end]


def _reach(start: str, neighbours: Callable[[str], Iterable[str]]) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for other in neighbours(stack.pop()):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def forget_rerun(recorded: Iterable[dict[str, Any]], rerun: Iterable[str]) -> None:
    """Drop what is recorded of node instances run again (results, failure counts), and of
    everything inside them (a container's children, a loop's iterations)."""
    paths = list(rerun)
    for table in recorded:
        for path in [p for p in table if any(p == r or p.startswith((f"{r}/", f"{r}[")) for r in paths)]:
            del table[path]
