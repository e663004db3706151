"""Mouse steps: move, click (left/right/middle, double), drag, scroll."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.steps.desktop._errors import map_pyautogui_errors
from agent.steps.desktop._params import FindParams, Target
from agent.steps.desktop._resolve import Found, locate
from agent.steps.desktop._screen import pyautogui
from shared.steps import context, step

__all__ = ["click", "drag", "move", "point_of", "scroll"]

Button = Literal["left", "right", "middle"]


def point_of(params: FindParams) -> Found:
    """The box the target resolves to (waiting for it up to `timeout_s`)."""
    return locate(params)[0]


class MoveParams(FindParams):
    duration_s: float = Field(0.0, ge=0, le=60, description="Seconds the pointer takes to get there (0: jump).")


class ClickParams(MoveParams):
    button: Button = Field("left", description="The mouse button.")
    clicks: int = Field(1, ge=1, le=3, description="1 = click, 2 = double click, 3 = triple click.")
    interval_s: float = Field(0.0, ge=0, le=5, description="Seconds between the clicks of a double click.")


class DragParams(MoveParams):
    to: Target = Field(description="Where to drop: a target like `target` (image:, point:, ... >> offset:).")
    button: Button = Field("left", description="The mouse button held while dragging.")


class ScrollParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(description="Wheel clicks: positive scrolls up (or right), negative down (or left).")
    horizontal: bool = Field(False, description="Scroll sideways instead of up/down.")
    target: Target | None = Field(None, description="Where to point before scrolling (default: where it is).")
    window: str | None = Field(None, description="A window title pattern the target is relative to.")
    timeout_s: float = Field(10.0, ge=0, description="Seconds to wait for the target to appear.")


def _where(found: Found) -> dict[str, Any]:
    x, y = found.center
    return {"x": x, "y": y, "target": found.as_dict()}


@step("desktop.move", params=MoveParams, output="{x, y, target}", capability="desktop", lock="desktop")
def move(params: MoveParams) -> dict[str, Any]:
    """Move the mouse pointer to the centre of a target.

    Example node: `{"id": "hover", "type": "desktop.move", "params": {"target": "image:menu.png"}}`
    """
    found = point_of(params)
    with map_pyautogui_errors():
        pyautogui().moveTo(*found.center, duration=params.duration_s)
    return _where(found)


@step("desktop.click", params=ClickParams, output="{x, y, target}", capability="desktop", lock="desktop")
def click(params: ClickParams) -> dict[str, Any]:
    """Click the centre of a target: left, right or middle button, single, double or triple.

    Waits up to `timeout_s` for an `image:` or `ocr:` target to appear.

    Example node: `{"id": "ok", "type": "desktop.click", "params": {"target": "ocr:\\"Submit\\"", "clicks": 2}}`
    """
    found = point_of(params)
    x, y = found.center
    with map_pyautogui_errors():
        gui = pyautogui()
        gui.moveTo(x, y, duration=params.duration_s)
        gui.click(x, y, clicks=params.clicks, interval=params.interval_s, button=params.button)
    context().log(f"clicked {params.button} x{params.clicks} at {x},{y}")
    return _where(found)


@step("desktop.drag", params=DragParams, output="{from, to}", capability="desktop", lock="desktop")
def drag(params: DragParams) -> dict[str, Any]:
    """Press a button on one target, move to another, release (drag and drop).

    Example node: `{"id": "dnd", "type": "desktop.drag",
    "params": {"target": "image:file.png", "to": "image:bin.png", "duration_s": 0.3}}`
    """
    start = point_of(params)
    end = point_of(params.model_copy(update={"target": params.to}))
    with map_pyautogui_errors():
        gui = pyautogui()
        gui.moveTo(*start.center)
        gui.mouseDown(button=params.button)
        try:
            # Several small moves: toolkits start a drag only after motion events, not one jump.
            gui.moveTo(*end.center, duration=max(params.duration_s, 0.1))
        finally:
            gui.mouseUp(button=params.button)
    return {"from": _where(start), "to": _where(end)}


@step("desktop.scroll", params=ScrollParams, output="{amount}", capability="desktop", lock="desktop")
def scroll(params: ScrollParams) -> dict[str, Any]:
    """Turn the mouse wheel, over a target when one is given.

    Example node: `{"id": "down", "type": "desktop.scroll", "params": {"amount": -5, "target": "point:400,300"}}`
    """
    with map_pyautogui_errors():
        gui = pyautogui()
        if params.target is not None:
            found = point_of(FindParams(target=params.target, window=params.window, timeout_s=params.timeout_s))
            gui.moveTo(*found.center)
        if params.horizontal:
            gui.hscroll(params.amount)
        else:
            gui.scroll(params.amount)
    return {"amount": params.amount}
