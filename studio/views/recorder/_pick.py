"""Pick element: a selector field asks, the recorder's browser answers, the node's param changes.

The properties panel emits `pick_requested(node_id, json_path)` and calls
`PickController.pick(node_id, json_path)`. The pick goes to the running recorder (one is
started on the flow's start URL if none runs), the picked target descriptor
(`{selector, fallbacks, fingerprint}`) is written into the node's param as one `set_param`
edit, and the recorder then tests it: `match_count` says how many elements it matches. Healed
selectors the recorder offers (`fixes`, from `--healed` journals) are listed; `accept_fix`
writes one into its node.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.model import FlowDocument
from studio.views.recorder._recording import start_url
from studio.views.recorder._view import RecorderView

_SEGMENT = re.compile(r"[^.\[\]]+")


def param_path(json_path: str) -> list[str]:
    """The param name and the keys inside it a field's JSON path names.

    `target`, `params.target`, `$.params.target.selector`, `$.nodes[2].params.target` all work;
    the part after the last `params` counts.
    """
    parts = [p for p in _SEGMENT.findall(json_path) if p != "$"]
    if "params" in parts:
        parts = parts[len(parts) - parts[::-1].index("params") :]
    if not parts:
        raise ValueError(f"'{json_path}' names no param")
    return parts


class PickController(QObject):
    """Answers the properties panel's "pick element" with the recorder's picker.

    Args:
        document: the open flow.
        view: the recorder panel whose process picks (started on demand).
    """

    picked = Signal(str, str, dict)
    """(node id, json path, target) once the param holds the picked target."""
    tested = Signal(int)
    """How many elements the picked selector matches."""
    fixes_offered = Signal(list)
    """Healed selectors offered by the recorder."""
    failed = Signal(str)
    """A pick that did not work (cancelled, no page, the recorder's error)."""

    def __init__(self, document: FlowDocument, view: RecorderView) -> None:
        super().__init__(view)
        self.document = document
        self.view = view
        self.fixes: list[dict[str, Any]] = []
        self.match_count: int | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, tuple[str, str]] = {}
        self._queued: list[dict[str, Any]] = []
        self._connected: object = None

    def _recorder(self) -> Any:
        process = self.view.process
        if process is None or not process.running:
            url = start_url(self.document.raw) or self.view.url.text().strip()
            process = self.view.start(url, keep=True)
        if self._connected is not process:
            process.received.connect(self._on_event)
            self._connected = process
        return process

    def pick(self, node_id: str, json_path: str) -> str:
        """Start picking an element for the field `json_path` of node `node_id`; the request id."""
        self.document.node(node_id)  # KeyError early for a node that is not there
        param_path(json_path)
        request = f"pick-{next(self._ids)}"
        self._waiting[request] = (node_id, json_path)
        self.match_count = None
        process = self._recorder()
        command = {"cmd": "pick", "id": request}
        if process.ready is None:
            self._queued.append(command)
        else:
            process.send(command)
        return request

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        process = self.view.process
        if kind == "ready" and process is not None:
            for command in self._queued:
                process.send(command)
            self._queued.clear()
        elif kind == "picked":
            self._on_picked(event)
        elif kind == "tested":
            self.match_count = int(event.get("count", 0))
            self.tested.emit(self.match_count)
        elif kind == "fixes":
            self.fixes = list(event.get("fixes") or [])
            self.fixes_offered.emit(self.fixes)
        elif kind == "error" and event.get("id") in self._waiting:
            self._waiting.pop(str(event["id"]))
            self.failed.emit(f"{event.get('kind')}: {event.get('message')}")
        elif kind == "error" and event.get("fatal") and self._waiting:
            # The recorder could not start (no display, a missing dependency): no pick will come.
            self._waiting.clear()
            self._queued.clear()
            self.failed.emit(f"{event.get('kind')}: {event.get('message')}")

    def _on_picked(self, event: dict[str, Any]) -> None:
        where = self._waiting.pop(str(event.get("id")), None)
        if where is None:
            return
        node_id, json_path = where
        target = event.get("target")
        if not isinstance(target, dict):
            target = {"selector": str(target)}
        self._write(node_id, param_path(json_path), target)
        self.picked.emit(node_id, json_path, target)
        if self.view.process is not None:
            self.view.process.send({"cmd": "test_selector", "id": f"test-{event.get('id')}", "target": target})

    def _write(self, node_id: str, path: list[str], value: Any) -> None:
        params = self.document.node(node_id).get("params") or {}
        name, inner = path[0], path[1:]
        if not inner:
            self.document.execute("set_param", node=node_id, name=name, value=value)
            return
        current = params.get(name)
        whole: dict[str, Any] = copy.deepcopy(current) if isinstance(current, dict) else {}
        cursor = whole
        for key in inner[:-1]:
            nested = cursor.get(key)
            cursor[key] = nested = nested if isinstance(nested, dict) else {}
            cursor = nested
        cursor[inner[-1]] = value
        self.document.execute("set_param", node=node_id, name=name, value=whole)

    def accept_fix(self, fix: dict[str, Any]) -> bool:
        """Write a healed selector into its node: the param holding the old selector gets the new one."""
        node_id = str(fix.get("node"))
        try:
            params = self.document.node(node_id).get("params") or {}
        except KeyError:
            return False
        for name, value in params.items():
            if value == fix.get("old"):
                self.document.execute("set_param", node=node_id, name=name, value=fix.get("new"))
                return True
            if isinstance(value, dict) and value.get("selector") == fix.get("old"):
                self.document.execute("set_param", node=node_id, name=name, value={**value, "selector": fix.get("new")})
                return True
        return False
