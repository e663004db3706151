"""Live validation: the same validator as `rpa validate`, plus the workflow analyser, re-run
after edits once the designer pauses typing.

Sans-I/O: edits mark the state stale (`FlowDocument` events), and the view's timer calls
`poll(now)`; the check runs when `delay_s` passed since the last edit. Tests drive the clock.
Each problem and finding is mapped to the node it is about, so the canvas can mark the node
and a double-click in the list can jump to it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.flow import GraphShape, Problem, validate_document
from shared.steps import StepRegistry
from studio.model._analyser import Finding, analyse
from studio.model._document import FlowDocument
from studio.model._events import ModelEvent, SelectionChanged, UndoChanged, ValidationChanged
from studio.model._index import NodeIndex, Parts

_PART = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def parse_json_path(path: str) -> Parts:
    """`("nodes", 2, "params", "X-Id")` from `$.nodes[2].params["X-Id"]` (the validator's form)."""
    parts: list[str | int] = []
    for match in _PART.finditer(path.removeprefix("$")):
        name, number, quoted = match.groups()
        parts.append(int(number) if number is not None else name if name is not None else quoted)
    return tuple(parts)


def node_of(index: NodeIndex, path: str) -> str | None:
    """The id of the node a JSON path points into, if any."""
    ref = index.node_at(parse_json_path(path))
    return ref.id if ref is not None else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A copy of the document to check away from the UI thread (`LiveValidation.check`)."""

    generation: int
    raw: dict[str, Any]
    registry: StepRegistry
    shape: GraphShape
    disabled_rules: frozenset[str]


@dataclass(frozen=True, slots=True)
class Checked:
    """What `LiveValidation.check` found in a snapshot."""

    generation: int
    problems: tuple[ProblemAt, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class ProblemAt:
    """A validation problem and the node it is about (None for flow-level problems)."""

    problem: Problem
    node: str | None


class LiveValidation:
    """The validator's problems and the analyser's findings of a document, kept current.

    `poll` checks on the calling thread. For a large flow the view can instead take a
    `snapshot()`, run `check` in a worker thread, and `apply` the result, which is dropped if
    the document changed meanwhile (the next poll checks again).

    Args:
        document: the document to watch.
        delay_s: quiet time after the last edit before checking again.
        disabled_rules: analyser rule ids switched off.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        document: FlowDocument,
        *,
        delay_s: float = 0.3,
        disabled_rules: set[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.document = document
        self.delay_s = delay_s
        self.disabled_rules = set(disabled_rules or ())
        self.clock = clock
        self.problems: tuple[ProblemAt, ...] = ()
        self.findings: tuple[Finding, ...] = ()
        self.stale = True
        self.generation = 0
        self._edited_at = clock()
        document.events.connect(ModelEvent, self._on_event)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, SelectionChanged | ValidationChanged | UndoChanged):
            return
        self.stale = True
        self.generation += 1
        self._edited_at = self.clock()

    def set_rule(self, rule: str, enabled: bool) -> None:
        """Switch an analyser rule on or off (checked again at the next poll)."""
        (self.disabled_rules.discard if enabled else self.disabled_rules.add)(rule)
        self.stale = True
        self.generation += 1

    def due(self, now: float | None = None) -> bool:
        """Stale and quiet for `delay_s`: a check should run now."""
        now = self.clock() if now is None else now
        return self.stale and now - self._edited_at >= self.delay_s

    def poll(self, now: float | None = None) -> bool:
        """Check again if stale and quiet for `delay_s`; True when it checked."""
        if not self.due(now):
            return False
        self.run()
        return True

    def run(self) -> None:
        """Check now, on this thread, and emit `ValidationChanged`."""
        self.apply(self.check(self.snapshot(copy=False)))

    def snapshot(self, *, copy: bool = True) -> Snapshot:
        """The document as it is now, for `check` (a deep copy, so edits may go on meanwhile)."""
        document = self.document
        raw = json.loads(json.dumps(document.raw)) if copy else document.raw
        return Snapshot(self.generation, raw, document.registry, document.shape, frozenset(self.disabled_rules))

    @staticmethod
    def check(snapshot: Snapshot) -> Checked:
        """Validate and analyse a snapshot; touches nothing else, so it may run in a worker thread
        (a large flow takes seconds: the view keeps painting meanwhile)."""
        index = NodeIndex(snapshot.raw, snapshot.shape)
        problems = validate_document(snapshot.raw, snapshot.registry)
        found = analyse(snapshot.raw, snapshot.registry, index, disabled=snapshot.disabled_rules)
        return Checked(snapshot.generation, tuple(ProblemAt(p, node_of(index, p.path)) for p in problems), tuple(found))

    def apply(self, checked: Checked) -> bool:
        """Take a check's result unless the document changed since its snapshot; True if taken."""
        if checked.generation != self.generation:
            return False
        self.problems, self.findings = checked.problems, checked.findings
        self.stale = False
        self.document.events.emit(ValidationChanged(self.problems, self.findings))
        return True

    def for_node(self, node_id: str) -> list[ProblemAt | Finding]:
        """The problems and findings about one node."""
        return [p for p in self.problems if p.node == node_id] + [f for f in self.findings if f.node == node_id]
