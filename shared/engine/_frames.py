"""Scopes of a running execution: runtimes (one per flow or sub-flow) and frames (one per graph
instance: the top graph, each loop iteration, each try body)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.engine._state import NodeResult
from shared.flow import Flow


class NodeFailed(Exception):
    """A node failed and its policy is `fail`: unwinds to the nearest `control.try` or the top."""

    def __init__(self, path: str, error: dict[str, Any]) -> None:
        super().__init__(f"{path}: {error.get('message')}")
        self.path = path
        self.error = error


@dataclass(slots=True)
class Runtime:
    """Inputs and variables of one flow (the top flow, or a sub-flow called by `flow.call`)."""

    flow: Flow
    scope: str
    inputs: dict[str, Any]
    variables: dict[str, Any]
    depth: int = 0
    flow_dir: Path | None = None
    """Where this flow's assets sit (`context().flow_dir` of its steps)."""


@dataclass(slots=True)
class Frame:
    """Results of one graph instance; lookups fall back to the enclosing frame."""

    runtime: Runtime
    parent: Frame | None = None
    bindings: dict[str, Any] = field(default_factory=dict)
    results: dict[str, NodeResult] = field(default_factory=dict)

    def child(self, **bindings: Any) -> Frame:
        """A nested frame (loop iteration, try body) that sees this one's results."""
        return Frame(self.runtime, self, {**self.bindings, **bindings})

    def lookup(self, node_id: str) -> NodeResult | None:
        """The result of `node_id` in this frame or an enclosing one."""
        frame: Frame | None = self
        while frame is not None:
            found = frame.results.get(node_id)
            if found is not None:
                return found
            frame = frame.parent
        return None


class StepsView(Mapping[str, Mapping[str, Any]]):
    """`steps.<id>.output` in expressions, read lazily from the frames."""

    __slots__ = ("_frame",)

    def __init__(self, frame: Frame) -> None:
        self._frame = frame

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        found = self._frame.lookup(key)
        if found is None:
            raise KeyError(key)
        return found.view()

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        frame: Frame | None = self._frame
        while frame is not None:
            for key in frame.results:
                if key not in seen:
                    seen.add(key)
                    yield key
            frame = frame.parent

    def __len__(self) -> int:
        return sum(1 for _ in self)
