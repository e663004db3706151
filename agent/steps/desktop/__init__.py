"""Desktop automation steps (`desktop.*`): mouse, keyboard, clipboard, screenshots, windows,
applications, and targets found on screen by image or text (see `_locators` for the syntax).

pyautogui, OpenCV, Pillow and python-xlib are imported inside the steps: the agent starts without
them and without a display. Every step that drives the mouse or keyboard holds the engine's
`desktop` lock, so two branches of a flow never type into each other.
"""

from __future__ import annotations

from agent.steps.desktop._errors import map_pyautogui_errors
from agent.steps.desktop._find_steps import locate, wait
from agent.steps.desktop._keyboard import hotkey, key_down, key_up, press, type_text
from agent.steps.desktop._locators import LocatorSyntaxError, Segment, parse_target
from agent.steps.desktop._match import ImageMatch, match_template
from agent.steps.desktop._mouse import click, drag, move, scroll
from agent.steps.desktop._system import clipboard_get, clipboard_set, open_app, screenshot
from agent.steps.desktop._window_steps import window_activate, window_close, window_move, windows

__all__ = [
    "DESKTOP_STEPS",
    "ImageMatch",
    "LocatorSyntaxError",
    "Segment",
    "map_pyautogui_errors",
    "match_template",
    "parse_target",
]

DESKTOP_STEPS = (
    move,
    click,
    drag,
    scroll,
    type_text,
    press,
    hotkey,
    key_down,
    key_up,
    clipboard_get,
    clipboard_set,
    screenshot,
    locate,
    wait,
    open_app,
    windows,
    window_activate,
    window_move,
    window_close,
)
