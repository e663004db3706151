"""What every hotkey backend offers, and the errors they report."""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from agent.attended.hotkeys._combo import Hotkey

Callback = Callable[[Hotkey], object]
"""Called in the backend's own thread when its hotkey is pressed: hand the work to your loop."""


class HotkeyConflict(Exception):
    """A combination already in use, by another program or by another of our registrations."""

    def __init__(self, hotkey: Hotkey, holder: str) -> None:
        super().__init__(f"{hotkey} is already in use by {holder}")
        self.hotkey = hotkey
        self.holder = holder


class HotkeyUnavailable(Exception):
    """Global hotkeys cannot work here (no X display, no python-xlib, another platform)."""


class HotkeyBackend(Protocol):
    """Grabs global combinations and calls back when one is pressed."""

    def register(self, hotkey: Hotkey, callback: Callback) -> None:
        """Grab `hotkey`; raises `HotkeyConflict` when another program holds it."""
        ...

    def unregister(self, hotkey: Hotkey) -> None:
        """Release `hotkey` (nothing when it is not registered)."""
        ...

    def close(self) -> None:
        """Release every grab and stop the thread."""
        ...


def run_commands(commands: queue.Queue[tuple[Callable[[], None], Future[None]]]) -> None:
    """Run what other threads queued for a backend's own thread (which alone may touch its display
    or message queue), each one's outcome set on its future."""
    while True:
        try:
            command, done = commands.get_nowait()
        except queue.Empty:
            return
        try:
            command()
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)
