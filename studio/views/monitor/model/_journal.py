"""One execution's journal folded into what its view shows: each node's state, the log lines,
the outputs, the end.

Steps' own log lines stay on the agent's log unless the engine journals them (`log` events);
the log shown is those, every failure (`node.failed`, as an error or a warning when retried),
and every note (`node.note`, e.g. a healed selector).

The engine's events (`shared/engine/_events.py`) name a node instance by its path with loop
indices (`each_line[3]/fill_form`); a node on the canvas is the last part without them. The
node's colour is the state of its latest instance: `running` when started (or failed and
retried), then `done`, `failed` or `skipped`. A restart (`node.restarted`) clears the nodes it
runs again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_INDEX = re.compile(r"\[\d+\]$")


def node_id(path: str) -> str:
    """The node a journal path names: `each_line[3]/fill_form` -> `fill_form`."""
    return _INDEX.sub("", path.rsplit("/", 1)[-1])


def on_canvas(path: str, parents: Mapping[str, str | None]) -> bool:
    """Whether `path` names one of the flow's own nodes: each part is a node of the flow
    (`parents`: node id -> the container it sits in, None at the top) inside the one before.
    The nodes of a called sub-flow run under the call's path but are not on this flow's canvas,
    and may share an id with one that is."""
    container: str | None = None
    for part in path.split("/"):
        node = _INDEX.sub("", part)
        if node not in parents or parents[node] != container:
            return False
        container = node
    return True


@dataclass(frozen=True, slots=True)
class NodeState:
    """A node's colour changed: `state` is None when it was cleared."""

    node: str
    state: str | None
    path: str = ""
    """The instance's journal path (`each[2]/fill`)."""


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line of the execution's log: a step's `log` event, a failure, or a note."""

    seq: int
    path: str
    level: str
    message: str


@dataclass
class Folded:
    """What one event changed."""

    states: list[NodeState] = field(default_factory=list)
    log: LogLine | None = None
    finished: bool = False


def _node_state(kind: str, data: Mapping[str, Any]) -> str:
    if kind == "node.started":
        return "running"
    if kind == "node.succeeded":
        return "done"
    if kind == "node.failed":
        return "running" if data.get("will_retry") else "failed"
    return "skipped"


class JournalFold:
    """The journal of one execution, event by event (in seq order; repeats are ignored)."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.events = 0
        self.states: dict[str, str] = {}
        self.paths: dict[str, str] = {}
        """The journal path of each node's latest instance."""
        self.logs: list[LogLine] = []
        self.inputs: dict[str, Any] = {}
        self.status: str | None = None
        self.outputs: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None

    def apply(self, event: Mapping[str, Any]) -> Folded:
        """Fold one journal event (`{seq, type, path, data, ts}`) in."""
        seq = int(event.get("seq") or 0)
        folded = Folded()
        if seq and seq <= self.last_seq:
            return folded
        self.last_seq = max(self.last_seq, seq)
        self.events += 1
        kind, path, data = str(event.get("type")), str(event.get("path") or ""), event.get("data") or {}
        if kind in ("node.started", "node.succeeded", "node.failed", "node.skipped") and path:
            self._node(folded, seq, kind, path, data)
        elif kind == "node.restarted":
            for again in data.get("rerun") or ():
                node = node_id(str(again))
                if self.states.pop(node, None) is not None:
                    folded.states.append(NodeState(node, None, str(again)))
        elif kind in ("log", "node.note"):
            self._log(folded, LogLine(seq, path, str(data.get("level", "info")), _message(kind, data)))
        elif kind == "execution.started":
            self.inputs = dict(data.get("inputs") or {})
        elif kind == "execution.finished":
            self.status = str(data.get("status") or "")
            self.outputs = data.get("outputs")
            self.error = data.get("error")
            folded.finished = True
        return folded

    def _node(self, folded: Folded, seq: int, kind: str, path: str, data: Mapping[str, Any]) -> None:
        node = node_id(path)
        self.paths[node] = path
        state = _node_state(kind, data)
        if self.states.get(node) != state:
            self.states[node] = state
            folded.states.append(NodeState(node, state, path))
        if kind == "node.failed":
            level = "warning" if data.get("will_retry") else "error"
            self._log(folded, LogLine(seq, path, level, _message(kind, data)))

    def _log(self, folded: Folded, line: LogLine) -> None:
        folded.log = line
        self.logs.append(line)


def _message(kind: str, data: Mapping[str, Any]) -> str:
    if kind == "log":
        return str(data.get("message", ""))
    if kind == "node.failed":
        error = data.get("error") or {}
        retry = f" (retry in {data.get('retry_in_s')} s)" if data.get("will_retry") else ""
        return f"{error.get('kind', 'error')}: {error.get('message', '')}{retry}"
    facts = {k: v for k, v in data.items() if k != "kind"}
    return f"note {data.get('kind', '')}: {json.dumps(facts, ensure_ascii=False, default=str)}"


def describe(event: Mapping[str, Any], *, width: int = 160) -> str:
    """One line for the journal list: seq, type, path and the event's main facts."""
    data = event.get("data") or {}
    kind = str(event.get("type"))
    if kind == "log":
        detail = f"{str(data.get('level', 'info')).upper()} {data.get('message', '')}"
    elif kind == "node.failed":
        error = data.get("error") or {}
        detail = str(error.get("message", "")) + (" (will retry)" if data.get("will_retry") else "")
    elif kind == "execution.started":
        detail = ""
    else:
        facts = {k: v for k, v in data.items() if k not in ("flow", "variables", "key")}
        detail = json.dumps(facts, ensure_ascii=False, default=str) if facts else ""
    line = f"{event.get('seq', ''):>5}  {kind:<20} {event.get('path') or '-'}  {detail}"
    return line if len(line) <= width else line[: width - 1] + "…"
