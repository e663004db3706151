"""Window steps: list, activate, move/resize, close, by title pattern (glob: `Invoice*`)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.steps.desktop import _windows
from agent.steps.desktop._windows import WindowInfo
from shared.steps import context, step

__all__ = ["window_activate", "window_close", "window_move", "windows"]


class WindowsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("*", description="A title pattern (glob: * any text, ? one character, [abc] a set).")


class WindowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="A title pattern (glob, e.g. 'Invoice*'); the front-most match is used.")
    timeout_s: float = Field(10.0, ge=0, description="Seconds to wait for such a window to appear.")


class MoveWindowParams(WindowParams):
    left: int | None = Field(None, description="New x of the window's left edge (None: unchanged).")
    top: int | None = Field(None, description="New y of the window's top edge (None: unchanged).")
    width: int | None = Field(None, gt=0, description="New width in pixels (None: unchanged).")
    height: int | None = Field(None, gt=0, description="New height in pixels (None: unchanged).")

    @model_validator(mode="after")
    def _something(self) -> MoveWindowParams:
        if self.left is None and self.top is None and self.width is None and self.height is None:
            raise ValueError("give at least one of left, top, width, height")
        return self


class CloseWindowParams(WindowParams):
    every: bool = Field(False, description="Close every matching window, not only the front-most.")


def _wait(params: WindowParams) -> WindowInfo:
    ctx = context()
    deadline = time.monotonic() + params.timeout_s
    while True:
        found = _windows.find_windows(params.title)
        if found:
            return found[0]
        if time.monotonic() >= deadline:
            return _windows.the_window(params.title)  # raises window_not_found with the titles
        ctx.raise_if_cancelled()
        time.sleep(0.2)


@step("desktop.windows", params=WindowsParams, output="[{id, title, left, top, width, height}]", capability="desktop")
def windows(params: WindowsParams) -> list[dict[str, Any]]:
    """List the visible windows whose title matches, front-most first.

    Example node: `{"id": "open-invoices", "type": "desktop.windows", "params": {"title": "Invoice*"}}`
    """
    return [w.as_dict() for w in _windows.find_windows(params.title)]


@step("desktop.window_activate", params=WindowParams, output="The window.", capability="desktop", lock="desktop")
def window_activate(params: WindowParams) -> dict[str, Any]:
    """Bring a window to the front and give it the keyboard focus (works without a window manager).

    Example node: `{"id": "focus", "type": "desktop.window_activate", "params": {"title": "Invoice*"}}`
    """
    window = _wait(params)
    _windows.activate(window.id)
    return window.as_dict()


@step("desktop.window_move", params=MoveWindowParams, output="The window after.", capability="desktop", lock="desktop")
def window_move(params: MoveWindowParams) -> dict[str, Any]:
    """Move and/or resize a window.

    Example node: `{"id": "park", "type": "desktop.window_move",
    "params": {"title": "Invoice*", "left": 0, "top": 0, "width": 800, "height": 600}}`
    """
    window = _wait(params)
    _windows.place(window.id, left=params.left, top=params.top, width=params.width, height=params.height)
    for _ in range(25):  # the X server applies the change asynchronously; report the new frame
        after = next((w for w in _windows.list_windows() if w.id == window.id), window)
        if after != window:
            break
        time.sleep(0.02)
    return after.as_dict()


@step(
    "desktop.window_close",
    params=CloseWindowParams,
    output="{closed: [titles]}",
    capability="desktop",
    lock="desktop",
)
def window_close(params: CloseWindowParams) -> dict[str, Any]:
    """Close a window (asks it politely with WM_DELETE_WINDOW; disconnects it if it does not listen).

    Example node: `{"id": "done", "type": "desktop.window_close", "params": {"title": "Invoice*"}}`
    """
    first = _wait(params)
    targets = _windows.find_windows(params.title) if params.every else [first]
    for window in targets:
        how = _windows.close(window.id)
        context().log(f"closed window '{window.title}' ({how})")
    return {"closed": [w.title for w in targets]}
