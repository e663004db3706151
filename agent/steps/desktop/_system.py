"""Clipboard, screenshots, and opening applications or files."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.steps.desktop._errors import map_pyautogui_errors, require_display
from agent.steps.desktop._params import FindParams, Target
from agent.steps.desktop._resolve import locate
from agent.steps.desktop._screen import grab, screen_box
from agent.steps.desktop._windows import find_windows, the_window
from shared.errors import MissingDependency, StepError
from shared.steps import NoParams, context, step

__all__ = ["clipboard_get", "clipboard_set", "open_app", "screenshot"]

_STARTED: list[subprocess.Popen[bytes]] = []


class ClipboardSetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The text to put on the clipboard.")


class ScreenshotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Target | None = Field(
        None, description="Only this area: region:l,t,r,b, an image: or ocr: match, a window:. Default: the screen."
    )
    window: str | None = Field(None, description="Only this window (a title pattern), or the target inside it.")
    name: str = Field("screenshot.png", pattern=r"^[\w.-]+\.png$", description="The artifact's file name (.png).")
    timeout_s: float = Field(10.0, ge=0, description="Seconds to wait for the target to appear.")


class OpenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application: str | None = Field(None, description="A program to start (name on PATH or full path).")
    args: list[str] = Field(default_factory=list, description="Arguments for the program.")
    file: str | None = Field(None, description="A file or URL to open with its default application (xdg-open).")
    wait_window: str | None = Field(
        None, description="Wait until a window whose title matches this pattern is shown, and return it."
    )
    timeout_s: float = Field(30.0, ge=0, description="Seconds to wait for that window.")

    @model_validator(mode="after")
    def _one(self) -> OpenParams:
        if (self.application is None) == (self.file is None):
            raise ValueError("give exactly one of application and file")
        if self.file is not None and self.args:
            raise ValueError("args go with application, not with file")
        return self


def _clipboard() -> Any:
    require_display()
    import importlib

    try:
        pyperclip = importlib.import_module("pyperclip")
    except ImportError:
        raise MissingDependency("pyperclip", extra="desktop") from None
    if sys.platform.startswith("linux") and not (shutil.which("xclip") or shutil.which("xsel")):
        raise MissingDependency("a clipboard tool", system_package="xclip")
    return pyperclip


@step("desktop.clipboard_get", params=NoParams, output="The clipboard's text.", capability="desktop", lock="desktop")
def clipboard_get(params: NoParams) -> str:
    """Read the text on the clipboard (xclip or xsel on Linux, the OS clipboard elsewhere).

    Example node: `{"id": "copied", "type": "desktop.clipboard_get"}`
    """
    with map_pyautogui_errors():
        return str(_clipboard().paste())


@step("desktop.clipboard_set", params=ClipboardSetParams, output="{characters}", capability="desktop", lock="desktop")
def clipboard_set(params: ClipboardSetParams) -> dict[str, Any]:
    """Put text on the clipboard, ready for a paste (ctrl+v).

    Example node: `{"id": "copy", "type": "desktop.clipboard_set", "params": {"text": "{{ inputs.ref }}"}}`
    """
    with map_pyautogui_errors():
        _clipboard().copy(params.text)
    return {"characters": len(params.text)}


@step(
    "desktop.screenshot",
    params=ScreenshotParams,
    output="{artifact, name, size, content_type, width, height, left, top}",
    capability="desktop",
)
def screenshot(params: ScreenshotParams) -> dict[str, Any]:
    """Save a PNG of the screen, a region, a window or a found target as an artifact.

    Example node: `{"id": "proof", "type": "desktop.screenshot",
    "params": {"window": "Invoice*", "name": "invoice.png"}}`
    """
    if params.target is not None:
        box = locate(FindParams(target=params.target, window=params.window, timeout_s=params.timeout_s))[0].box
    elif params.window is not None:
        box = the_window(params.window).box
    else:
        box = screen_box()
    image = grab(box)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    saved = context().save_artifact(params.name, buffer.getvalue(), content_type="image/png")
    return saved | {"width": image.width, "height": image.height, "left": box[0], "top": box[1]}


def _command(params: OpenParams) -> list[str]:
    if params.application is not None:
        program = shutil.which(params.application) or params.application
        if not os.path.isfile(program):
            raise StepError(f"no application '{params.application}' (not a file, not on PATH)", kind="validation")
        return [program, *params.args]
    assert params.file is not None
    if sys.platform.startswith("linux"):
        opener = shutil.which("xdg-open")
        if opener is None:
            raise MissingDependency("xdg-open", system_package="xdg-utils")
        return [opener, params.file]
    if sys.platform == "darwin":
        return ["open", params.file]
    raise StepError(f"opening files is not implemented on {sys.platform} yet", kind="unsupported")


def _wait_window(pattern: str, timeout_s: float) -> dict[str, Any]:
    ctx = context()
    deadline = time.monotonic() + timeout_s
    while True:
        found = find_windows(pattern)
        if found:
            return found[0].as_dict()
        if time.monotonic() >= deadline:
            the_window(pattern)  # raises window_not_found, listing the titles on screen
        ctx.raise_if_cancelled()
        time.sleep(0.2)


@step("desktop.open", params=OpenParams, output="{pid, window}", capability="desktop", lock="desktop")
def open_app(params: OpenParams) -> dict[str, Any]:
    """Start an application, or open a file or URL with its default application.

    The program runs on after the step (it is the user's application, not the step's); give
    `wait_window` to continue only once its window is shown.

    Example node: `{"id": "calc", "type": "desktop.open",
    "params": {"application": "gnome-calculator", "wait_window": "Calculator*"}}`
    """
    require_display()
    command = _command(params)
    with map_pyautogui_errors():
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # Kept (and reaped when they end) so that a running program is never garbage-collected
        # with its Popen, which would warn; the agent does not wait for the user's applications.
        _STARTED[:] = [p for p in _STARTED if p.poll() is None]
        _STARTED.append(process)
        window = _wait_window(params.wait_window, params.timeout_s) if params.wait_window else None
    return {"pid": process.pid, "window": window}
