"""Keyboard steps: type text (or a credential), press keys, hotkeys, hold and release."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from agent.steps.desktop._errors import map_pyautogui_errors
from agent.steps.desktop._keys import check_key
from agent.steps.desktop._mouse import point_of
from agent.steps.desktop._params import FindParams, Target
from agent.steps.desktop._screen import pyautogui
from shared.errors import StepError
from shared.steps import CREDENTIAL_NAME, context, step

__all__ = ["hotkey", "key_down", "key_up", "press", "type_text"]

Key = Annotated[str, AfterValidator(check_key)]
HELD = "desktop.held:"
REMAP_PAUSE_S = 0.05


class TypeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="The text to type (exactly one of text and credential).")
    credential: str | None = Field(
        None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Type a credential's value by name (NAME or NAME.field); it never shows in logs.",
    )
    interval_s: float = Field(0.0, ge=0, le=5, description="Seconds between keystrokes.")
    target: Target | None = Field(None, description="Click this target first (e.g. the input field).")
    window: str | None = Field(None, description="A window title pattern the target is relative to.")
    timeout_s: float = Field(10.0, ge=0, description="Seconds to wait for the target to appear.")

    @model_validator(mode="after")
    def _one_source(self) -> TypeParams:
        if (self.text is None) == (self.credential is None):
            raise ValueError("give exactly one of text and credential")
        return self


class PressParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[Key] = Field(min_length=1, description="Keys pressed one after the other, e.g. ['tab', 'enter'].")
    presses: int = Field(1, ge=1, le=100, description="How many times to press the sequence.")
    interval_s: float = Field(0.0, ge=0, le=5, description="Seconds between key presses.")


class HotkeyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[Key] = Field(
        min_length=1, description="Keys held together (pressed in order, released in reverse): ['ctrl', 'shift', 's']."
    )


class KeyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key = Field(description="The key, e.g. 'shift'.")


def _type_char(gui: Any, char: str) -> None:
    if gui.isValidKey(char) or char in "\n\t":
        gui.write(char)
        return
    # pyautogui types only the keys of a US layout; other characters (é, ß, €) go through
    # xdotool, which maps a spare keycode to the character's keysym for the moment.
    xdotool = shutil.which("xdotool")
    if xdotool is None:
        raise StepError(
            f"cannot type the character {char!r}: install xdotool (Linux) to type characters outside US keys",
            kind="unsupported",
        )
    # On stdin, not argv: a credential's characters never show in the process list. The pauses:
    # xdotool remaps a spare keycode and maps it back when it exits; an application that reads
    # the key event after that, or before it has seen the new mapping, loses the character
    # (measured under Xvfb with Tk: one character in three lost without them).
    time.sleep(REMAP_PAUSE_S)
    subprocess.run([xdotool, "type", "--file", "-"], input=char.encode(), check=True, timeout=10, capture_output=True)
    time.sleep(REMAP_PAUSE_S)


def _click_first(params: TypeParams) -> None:
    if params.target is not None:
        found = point_of(FindParams(target=params.target, window=params.window, timeout_s=params.timeout_s))
        pyautogui().click(*found.center)


@step("desktop.type", params=TypeParams, output="{characters}", capability="desktop", lock="desktop")
def type_text(params: TypeParams) -> dict[str, Any]:
    """Type text with the keyboard, optionally clicking a target first.

    `credential` types a secret by its name; the value is masked in logs and errors.

    Example node: `{"id": "name", "type": "desktop.type",
    "params": {"target": "image:name_field.png", "text": "ACME Ltd", "interval_s": 0.02}}`
    """
    ctx = context()
    text = params.text if params.credential is None else ctx.secret(params.credential)
    assert text is not None
    with map_pyautogui_errors():
        _click_first(params)
        gui = pyautogui()
        for char in text:
            ctx.checkpoint()
            _type_char(gui, char)
            if params.interval_s:
                time.sleep(params.interval_s)
    return {"characters": len(text)}


@step("desktop.press", params=PressParams, output="{keys}", capability="desktop", lock="desktop")
def press(params: PressParams) -> dict[str, Any]:
    """Press keys one after the other (e.g. tab, tab, enter).

    Example node: `{"id": "next", "type": "desktop.press", "params": {"keys": ["tab"], "presses": 2}}`
    """
    with map_pyautogui_errors():
        pyautogui().press(params.keys, presses=params.presses, interval=params.interval_s)
    return {"keys": params.keys}


@step("desktop.hotkey", params=HotkeyParams, output="{keys}", capability="desktop", lock="desktop")
def hotkey(params: HotkeyParams) -> dict[str, Any]:
    """Press a key combination (ctrl+c, ctrl+shift+s, alt+f4).

    Example node: `{"id": "copy", "type": "desktop.hotkey", "params": {"keys": ["ctrl", "c"]}}`
    """
    with map_pyautogui_errors():
        pyautogui().hotkey(*params.keys)
    return {"keys": params.keys}


@step("desktop.key_down", params=KeyParams, output="{key}", capability="desktop", lock="desktop")
def key_down(params: KeyParams) -> dict[str, Any]:
    """Hold a key down until `desktop.key_up` (or the end of the execution, which releases it).

    Example node: `{"id": "hold", "type": "desktop.key_down", "params": {"key": "shift"}}`
    """
    ctx = context()
    with map_pyautogui_errors():
        gui = pyautogui()
        gui.keyDown(params.key)
    # A key left down would type capitals into the next execution: release it when this one ends.
    if ctx.resources.get(HELD + params.key) is None:
        ctx.resources.put(HELD + params.key, params.key, close=gui.keyUp)
    return {"key": params.key}


@step("desktop.key_up", params=KeyParams, output="{key, was_held}", capability="desktop", lock="desktop")
def key_up(params: KeyParams) -> dict[str, Any]:
    """Release a key held by `desktop.key_down`.

    Example node: `{"id": "let-go", "type": "desktop.key_up", "params": {"key": "shift"}}`
    """
    held = context().resources.pop(HELD + params.key)
    with map_pyautogui_errors():
        pyautogui().keyUp(params.key)
    return {"key": params.key, "was_held": held is not None}
