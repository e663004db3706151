"""The fallback if Playwright's private recorder goes away: read `playwright codegen` output.

`playwright codegen --target python-async -o FILE URL` writes a script of the user's actions.
`parse_codegen` reads that script (with `ast`, never executing it) into the same
`RecordedAction`s `_adapter.py` streams, so `FlowBuilder` turns either into nodes. Only the seam
is built: what codegen generates for navigation, clicks, typing, keys, selects, checks, files,
popups, downloads and dialogs, and the locator calls it chains (`get_by_role`, `get_by_label`,
`get_by_placeholder`, `get_by_text`, `get_by_test_id`, `get_by_alt_text`, `get_by_title`,
`locator`, `frame_locator`, `content_frame`, `first`, `last`, `nth`), each turned back into the
selector string Playwright itself would hold.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Any

from agent.recorder._adapter import RecordedAction

__all__ = ["CodegenParseError", "parse_codegen"]

_ENTER_FRAME = " >> internal:control=enter-frame"
_ATTR_ENGINES = {"get_by_placeholder": "placeholder", "get_by_alt_text": "alt", "get_by_title": "title"}
_ACTIONS = {"click", "dblclick", "fill", "press", "select_option", "check", "uncheck", "set_input_files"}


class CodegenParseError(ValueError):
    """A script that is not Python; the message says where."""


def _quoted(text: str, exact: bool) -> str:
    return json.dumps(text) + ("s" if exact else "i")


def _keywords(call: ast.Call) -> dict[str, Any]:
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg is not None}


def _literal_args(call: ast.Call) -> list[Any]:
    return [ast.literal_eval(a) for a in call.args]


def _part(method: str, call: ast.Call) -> str | None:
    """The selector part one locator call adds, None for a call that is not a locator."""
    args, kwargs = _literal_args(call), _keywords(call)
    exact = bool(kwargs.get("exact", False))
    if method == "get_by_role":
        name = f"[name={_quoted(str(kwargs['name']), exact)}]" if "name" in kwargs else ""
        return f"internal:role={args[0]}{name}"
    if method == "get_by_label":
        return f"internal:label={_quoted(str(args[0]), exact)}"
    if method == "get_by_text":
        return f"internal:text={_quoted(str(args[0]), exact)}"
    if method == "get_by_test_id":
        return f"internal:testid=[data-testid={json.dumps(str(args[0]))}s]"
    if method in _ATTR_ENGINES:
        return f"internal:attr=[{_ATTR_ENGINES[method]}={_quoted(str(args[0]), exact)}]"
    if method == "locator":
        return str(args[0])
    if method == "nth":
        return f"nth={args[0]}"
    return None


def _selector(node: ast.expr) -> tuple[str, str]:
    """(page variable, selector) of a locator expression such as `page.get_by_role(...).first`."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute) and node.attr in ("first", "last", "content_frame"):
            parts.append({"first": "nth=0", "last": "nth=-1", "content_frame": _ENTER_FRAME.strip(" >")}[node.attr])
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method == "frame_locator":
                parts.append(f"{ast.literal_eval(node.args[0])}{_ENTER_FRAME}")
            else:
                part = _part(method, node)
                if part is None:
                    break
                parts.append(part)
            node = node.func.value
        else:
            break
    page = node.id if isinstance(node, ast.Name) else ""
    return page, " >> ".join(reversed(parts))


def _action(call: ast.Call) -> tuple[str, str, dict[str, Any]] | None:
    """(page, name, data) of one awaited call of the script, None for what is not an action."""
    if not isinstance(call.func, ast.Attribute):
        return None
    method, args = call.func.attr, call.args
    if method == "goto" and isinstance(call.func.value, ast.Name):
        return call.func.value.id, "navigate", {"url": ast.literal_eval(args[0])}
    if method == "close" and isinstance(call.func.value, ast.Name) and call.func.value.id.startswith("page"):
        return call.func.value.id, "closePage", {}
    if method not in _ACTIONS:
        return None
    page, selector = _selector(call.func.value)
    data: dict[str, Any] = {"selector": selector, **_keywords(call)}
    values = _literal_args(call)
    if method in ("click", "dblclick"):
        modifiers = {"Alt": 1, "Control": 2, "ControlOrMeta": 2, "Meta": 4, "Shift": 8}
        bits = sum(modifiers.get(m, 0) for m in data.pop("modifiers", []))
        data.update(button=data.get("button", "left"), clickCount=2 if method == "dblclick" else 1, modifiers=bits)
        return page, "click", data
    if method == "fill":
        return page, "fill", {**data, "text": values[0]}
    if method == "press":
        return page, "press", {**data, "key": values[0], "modifiers": 0}
    if method == "select_option":
        chosen = values[0]
        return page, "select", {**data, "options": chosen if isinstance(chosen, list) else [chosen]}
    if method == "set_input_files":
        files = values[0]
        return page, "setInputFiles", {**data, "files": files if isinstance(files, list) else [files]}
    return page, method, data


def _signal(item: ast.withitem) -> str | None:
    call = item.context_expr
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
        return {"expect_popup": "popup", "expect_download": "download"}.get(call.func.attr)
    return None


@dataclass
class _Walk:
    pages: dict[str, object] = field(default_factory=dict)
    out: list[RecordedAction] = field(default_factory=list)
    dialog: bool = False
    """A `page.once("dialog", ...)` was read: its signal follows the next action, as the recorder's does."""

    def add(self, action: RecordedAction) -> None:
        self.out.append(action)
        if self.dialog and action.kind == "added":
            self.dialog = False
            self.out.append(RecordedAction("signal", "dialog", {}, action.page))

    def statements(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.AsyncWith):
                signals = [s for s in map(_signal, statement.items) if s]
                self.statements(statement.body)
                for name in signals:
                    self.add(RecordedAction("signal", name, {}, self.out[-1].page if self.out else None))
            elif isinstance(statement, ast.Expr | ast.Assign) and isinstance(statement.value, ast.Await):
                self.awaited(statement.value.value)
            elif isinstance(statement, ast.Expr) and _is_dialog_handler(statement.value):
                self.dialog = True
            elif isinstance(statement, ast.AsyncFunctionDef | ast.FunctionDef):
                self.statements(statement.body)

    def awaited(self, call: ast.expr) -> None:
        found = _action(call) if isinstance(call, ast.Call) else None
        if found is not None:
            page, name, data = found
            self.add(RecordedAction("added", name, data, self.pages.setdefault(page, object())))


def _is_dialog_handler(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "once"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "dialog"
    )


def parse_codegen(source: str) -> list[RecordedAction]:
    """The actions of a `playwright codegen --target python-async` script, in order.

    Pages are stand-in objects, one per page variable (`page`, `page1`...), so tabs and popups
    keep their identity for `FlowBuilder`.

    Raises:
        CodegenParseError: the source is not Python.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise CodegenParseError(f"not a codegen script: {err.msg} at line {err.lineno}") from None
    walk = _Walk()
    walk.statements(tree.body)
    return walk.out
