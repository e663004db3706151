"""Recorded actions to `browser.*` flow nodes: pure, no browser (tested without one).

`FlowBuilder` follows the recorder's stream and answers each action with `NodeChange`s: a node
to append, to put `before` another one, or (same `id` as an earlier node) to replace it. Typing
grows one `browser.fill` node; a click that starts a download becomes `browser.download`; a
dialog puts a `browser.handle_dialog` before the action that raised it; an action in another
tab than the last one is preceded by `browser.switch_tab`. Passwords never become literals: a
field the caller marks secret gets `{"credential": "<name>.password"}` instead of a value.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.recorder._adapter import RecordedAction

__all__ = ["ElementInfo", "FlowBuilder", "NodeChange", "credential_name_for", "looks_secret"]

_MODIFIERS = ((1, "Alt"), (2, "Control"), (4, "Meta"), (8, "Shift"))
"""Playwright's recorder packs held modifier keys as bits."""
_NOT_ADDRESSES = ("about:", "chrome-error:", "chrome:", "devtools:")
_FAKEPATH = re.compile(r"^[A-Za-z]:\\fakepath\\")
_SECRET_WORDS = re.compile(r"pass(word|wort|phrase|code)?|pwd|mot de passe|contrase|secret|\bpin\b|otp", re.I)


@dataclass(frozen=True)
class ElementInfo:
    """What the recorder learned about the element of an action (see `_session.describe`)."""

    target: str | dict[str, Any]
    """A selector, or a target descriptor `{selector, fallbacks, fingerprint}`."""
    secret: bool = False
    """A password field: what is typed becomes a credential reference, never a literal."""


@dataclass(frozen=True)
class NodeChange:
    """Append `node`, replace the node with its `id` when one exists, or insert it `before` one."""

    node: dict[str, Any]
    before: str | None = None


def credential_name_for(url: str) -> str:
    """A credential name from a site's host: `https://erp.example.com/x` -> `erp_example_com`."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.I).split("/", 1)[0].split("@")[-1].split(":")[0]
    name = re.sub(r"[^A-Za-z0-9]+", "_", host).strip("_").lower()
    return name or "site"


def looks_secret(selector: str, fingerprint: dict[str, Any] | None) -> bool:
    """Whether a field takes a secret: `type=password`, or a password-like name or label."""
    if fingerprint is not None and str(fingerprint.get("type", "")).lower() == "password":
        return True
    return bool(_SECRET_WORDS.search(selector))


def _modifiers(bits: Any) -> list[str]:
    return [name for bit, name in _MODIFIERS if isinstance(bits, int) and bits & bit]


@dataclass
class FlowBuilder:
    """The nodes recorded so far, in order, and how each new action changes them."""

    start_url: str
    credential: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    tabs: list[Any] = field(default_factory=list)
    """Page keys in the order the session saw them (`browser.switch_tab` indexes)."""
    active: int = 0
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _last: str | None = None

    # --- tabs -----------------------------------------------------------------------
    def tab_of(self, page: Any) -> int:
        """The tab number of a page (a page never seen is a new tab)."""
        for number, known in enumerate(self.tabs):
            if known is page:
                return number
        self.tabs.append(page)
        return len(self.tabs) - 1

    # --- the stream -----------------------------------------------------------------
    def on_action(self, action: RecordedAction, element: ElementInfo | None = None) -> list[NodeChange]:
        """The node changes one recorder event makes (none for what replays by itself)."""
        if action.kind == "signal":
            return self._on_signal(action)
        if action.name == "openPage":
            return self._open_page(action)
        if action.name == "closePage":
            return self._close_page(action)
        changes = self._switch_to(action.page)
        node = self._node_for(action, element)
        if node is None:
            return changes
        if action.kind == "updated" and self._last is not None and self._same_kind(node):
            node["id"] = self._last
            self._replace(node)
            return [*changes, NodeChange(node)]
        return [*changes, self._append(node)]

    def _open_page(self, action: RecordedAction) -> list[NodeChange]:
        known = any(page is action.page for page in self.tabs)
        first = not self.tabs
        number = self.tab_of(action.page)
        if known or first:
            return []  # the first tab is the one browser.open opens
        self.active = number
        return [self._append(self._new("browser.new_tab", {}))]

    def _close_page(self, action: RecordedAction) -> list[NodeChange]:
        number = next((n for n, page in enumerate(self.tabs) if page is action.page), None)
        if number is None or len(self.tabs) <= 1:
            return []  # the last tab closes with the session
        self.tabs.pop(number)
        self.active = min(self.active if self.active < number else self.active - 1, len(self.tabs) - 1)
        return [self._append(self._new("browser.close_tab", {"index": number}))]

    def _switch_to(self, page: Any) -> list[NodeChange]:
        if page is None:
            return []
        number = self.tab_of(page)
        if number == self.active:
            return []
        self.active = number
        return [self._append(self._new("browser.switch_tab", {"index": number}))]

    def _on_signal(self, action: RecordedAction) -> list[NodeChange]:
        last = self._find(self._last)
        if last is None:
            return []
        if action.name == "download" and last["type"] == "browser.click":
            node = {"id": last["id"], "type": "browser.download", "params": {"target": last["params"]["target"]}}
            self._replace(node)
            return [NodeChange(node)]
        if action.name == "dialog":
            node = self._named(self._new("browser.handle_dialog", {"action": "dismiss"}))
            self.nodes.insert(self.nodes.index(last), node)
            return [NodeChange(node, before=last["id"])]
        return []  # popup: the new tab joins the session; navigation: the action waits for it

    # --- nodes ----------------------------------------------------------------------
    def _node_for(self, action: RecordedAction, element: ElementInfo | None) -> dict[str, Any] | None:
        data = action.data
        if action.name == "navigate":
            url = str(data.get("url", ""))
            if url.startswith(_NOT_ADDRESSES):
                return None  # the browser's own pages (a load error, a blank tab) are not places to go
            if not self.nodes and url.rstrip("/") == self.start_url.rstrip("/"):
                return None  # browser.open already goes there
            return self._new("browser.goto", {"url": url})
        if element is None:
            return None
        target = element.target
        build: Callable[[Any, dict[str, Any], ElementInfo], dict[str, Any]] | None = {
            "click": self._click,
            "fill": self._fill,
            "press": self._press,
            "select": self._select,
            "check": self._check,
            "uncheck": self._uncheck,
            "setInputFiles": self._upload,
        }.get(action.name)
        return None if build is None else build(target, data, element)

    def _check(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        return self._new("browser.check", {"target": target})

    def _uncheck(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        return self._new("browser.uncheck", {"target": target})

    def _upload(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        return self._new("browser.upload", {"target": target, "files": [str(f) for f in data.get("files", [])]})

    def _click(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        params: dict[str, Any] = {"target": target}
        if data.get("button", "left") != "left":
            params["button"] = data["button"]
        if int(data.get("clickCount", 1)) > 1:
            params["click_count"] = min(int(data["clickCount"]), 3)
        if mods := _modifiers(data.get("modifiers")):
            params["modifiers"] = mods
        return self._new("browser.click", params)

    def _fill(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        text = str(data.get("text", ""))
        if _FAKEPATH.match(text):  # a file chosen without the file dialog: its name only
            return self._new("browser.upload", {"target": target, "files": [_FAKEPATH.sub("", text)]})
        if element.secret:
            return self._new("browser.fill", {"target": target, "credential": f"{self.credential}.password"})
        return self._new("browser.fill", {"target": target, "value": text})

    def _press(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        key = "+".join([*_modifiers(data.get("modifiers")), str(data.get("key", ""))])
        return self._new("browser.press", {"target": target, "key": key})

    def _select(self, target: Any, data: dict[str, Any], element: ElementInfo) -> dict[str, Any]:
        options = [str(o) for o in data.get("options", [])]
        return self._new(
            "browser.select_option", {"target": target, "value": options[0] if len(options) == 1 else options}
        )

    # --- bookkeeping ----------------------------------------------------------------
    @staticmethod
    def _new(step_type: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": "", "type": step_type, "params": params}

    def _named(self, node: dict[str, Any]) -> dict[str, Any]:
        node["id"] = f"{node['type'].removeprefix('browser.')}_{next(self._counter)}"
        return node

    def _append(self, node: dict[str, Any]) -> NodeChange:
        self._named(node)
        self.nodes.append(node)
        self._last = node["id"]
        return NodeChange(node)

    def _find(self, node_id: str | None) -> dict[str, Any] | None:
        return next((n for n in self.nodes if n["id"] == node_id), None)

    def _replace(self, node: dict[str, Any]) -> None:
        for number, known in enumerate(self.nodes):
            if known["id"] == node["id"]:
                self.nodes[number] = node
                return

    def _same_kind(self, node: dict[str, Any]) -> bool:
        last = self._find(self._last)
        return last is not None and last["type"] == node["type"]

    # --- the flow -------------------------------------------------------------------
    def flow(self, name: str) -> dict[str, Any]:
        """The recording as a runnable flow: `browser.open` at the start URL, the nodes, `browser.close`."""
        opening = {"id": "open", "type": "browser.open", "params": {"url": self.start_url}}
        closing = {"id": "close", "type": "browser.close", "params": {}}
        nodes = [opening, *self.nodes, closing]
        edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
        return {"schema": "rpa.flow/1", "name": name, "requires": ["browser"], "nodes": nodes, "edges": edges}
