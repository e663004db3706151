"""Top-level windows by title, through the X protocol (python-xlib) on Linux.

Found under Xvfb, which has no window manager: `xdotool windowactivate` fails there (it asks the
window manager through `_NET_ACTIVE_WINDOW`), so activation raises the window, gives it the
input focus with `XSetInputFocus` and *also* sends `_NET_ACTIVE_WINDOW`, which a window manager
(when there is one) honours. Move and resize are `XConfigureWindow`; close asks politely with
`WM_DELETE_WINDOW` when the window supports it, else disconnects its client (`XKillClient`).

Windows (pywinauto / pygetwindow, the Win32 `EnumWindows`) and macOS (Quartz
`CGWindowListCopyWindowInfo` plus the Accessibility API) are not implemented: the steps raise a
clear `unsupported` error there.
"""

from __future__ import annotations

import fnmatch
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from agent.steps.desktop._errors import map_pyautogui_errors, require_display
from shared.errors import MissingDependency, StepError

__all__ = ["WindowInfo", "activate", "close", "find_windows", "list_windows", "place", "the_window"]


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """A visible top-level window and its frame on screen."""

    id: int
    title: str
    left: int
    top: int
    width: int
    height: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "left": self.left,
            "top": self.top,
            "width": self.width,
            "height": self.height,
        }

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.width, self.height)


@contextmanager
def _display() -> Iterator[Any]:
    if not sys.platform.startswith("linux"):
        raise StepError(
            f"window steps are not implemented on {sys.platform} yet (see docs/steps/desktop.md)",
            kind="unsupported",
            retryable=False,
        )
    require_display()
    try:
        xdisplay = importlib.import_module("Xlib.display")
    except ImportError:
        raise MissingDependency("python-xlib", extra="desktop") from None
    with map_pyautogui_errors():
        connection = xdisplay.Display()
        try:
            yield connection
        finally:
            connection.close()


def _title(window: Any, connection: Any) -> str | None:
    net_name = window.get_full_property(connection.intern_atom("_NET_WM_NAME"), 0)
    if net_name is not None and net_name.value:
        value = net_name.value
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    name = window.get_wm_name()
    if isinstance(name, bytes):
        return name.decode("latin-1")
    return name or None


def _walk(connection: Any, window: Any, depth: int) -> Iterator[tuple[Any, str]]:
    # Without a window manager the titled windows are the root's children; a reparenting window
    # manager puts them one or two levels down, inside its frames.
    for child in window.query_tree().children:
        attributes = child.get_attributes()
        if attributes.map_state != 2:  # X.IsViewable
            continue
        title = _title(child, connection)
        if title is not None:
            yield child, title
        elif depth > 0:
            yield from _walk(connection, child, depth - 1)


def _info(connection: Any, window: Any, title: str) -> WindowInfo:
    root = connection.screen().root
    origin = root.translate_coords(window, 0, 0)
    geometry = window.get_geometry()
    return WindowInfo(window.id, title, int(origin.x), int(origin.y), int(geometry.width), int(geometry.height))


def list_windows(pattern: str | None = None) -> list[WindowInfo]:
    """Visible top-level windows whose title matches the glob `pattern` (all when None),
    front-most last (X stacking order)."""
    with _display() as connection:
        root = connection.screen().root
        return [
            _info(connection, window, title)
            for window, title in _walk(connection, root, 2)
            if pattern is None or fnmatch.fnmatchcase(title, pattern)
        ]


def find_windows(pattern: str) -> list[WindowInfo]:
    """Like `list_windows`, front-most first."""
    return list(reversed(list_windows(pattern)))


def the_window(pattern: str) -> WindowInfo:
    """The front-most window whose title matches `pattern`.

    Raises:
        StepError: kind `window_not_found` (retryable) listing the titles on screen.
    """
    found = find_windows(pattern)
    if found:
        return found[0]
    titles = [w.title for w in list_windows()][:10]
    raise StepError(
        f"no window title matches '{pattern}' (windows on screen: {titles})",
        kind="window_not_found",
        retryable=True,
        details={"pattern": pattern, "titles": titles},
    )


def _send(connection: Any, window: Any, message_type: str, data: list[int]) -> None:
    event = importlib.import_module("Xlib.protocol.event")
    x = importlib.import_module("Xlib.X")
    message = event.ClientMessage(
        window=window, client_type=connection.intern_atom(message_type), data=(32, [*data, 0, 0, 0, 0][:5])
    )
    mask = x.SubstructureRedirectMask | x.SubstructureNotifyMask
    connection.screen().root.send_event(message, event_mask=mask)


def activate(window_id: int) -> None:
    """Raise the window and give it the keyboard focus (with or without a window manager)."""
    x = importlib.import_module("Xlib.X")
    with _display() as connection:
        window = connection.create_resource_object("window", window_id)
        _send(connection, window, "_NET_ACTIVE_WINDOW", [1, x.CurrentTime, 0])
        window.configure(stack_mode=x.Above)
        window.set_input_focus(x.RevertToParent, x.CurrentTime)
        connection.sync()


def place(window_id: int, *, left: int | None, top: int | None, width: int | None, height: int | None) -> None:
    """Move and/or resize the window (the values left None stay as they are)."""
    changes = {k: v for k, v in {"x": left, "y": top, "width": width, "height": height}.items() if v is not None}
    with _display() as connection:
        connection.create_resource_object("window", window_id).configure(**changes)
        connection.sync()


def close(window_id: int) -> str:
    """Ask the window to close (`WM_DELETE_WINDOW`), or disconnect its client; says which."""
    x = importlib.import_module("Xlib.X")
    with _display() as connection:
        window = connection.create_resource_object("window", window_id)
        delete = connection.intern_atom("WM_DELETE_WINDOW")
        protocols = window.get_wm_protocols() or []
        if delete in protocols:
            event = importlib.import_module("Xlib.protocol.event")
            message = event.ClientMessage(
                window=window,
                client_type=connection.intern_atom("WM_PROTOCOLS"),
                data=(32, [delete, x.CurrentTime, 0, 0, 0]),
            )
            window.send_event(message, event_mask=x.NoEventMask)
            connection.sync()
            return "asked"
        connection.kill_client(window_id)
        connection.sync()
        return "killed"
