"""Global hotkeys on Windows: `RegisterHotKey` in a thread with its own message loop.

A hotkey belongs to the thread that registered it, and `WM_HOTKEY` arrives in that thread's
queue, so one thread registers, unregisters and runs `GetMessageW`; other threads hand it work
with `PostThreadMessageW` (a private `WM_APP` message) and wait for its answer. An already taken
combination fails with `ERROR_HOTKEY_ALREADY_REGISTERED` (reported as a `HotkeyConflict`). No
low-level keyboard hook: Windows silently removes one whose callback takes over 300 ms.

Runs on Windows only (`sys.platform == "win32"`); it cannot be exercised on the Linux CI, and
mypy checks it only with `--platform win32`.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future

from agent.attended.hotkeys._base import Callback, HotkeyConflict, HotkeyUnavailable, run_commands
from agent.attended.hotkeys._combo import Hotkey

_MODS = {"alt": 0x0001, "ctrl": 0x0002, "shift": 0x0004, "super": 0x0008}
_MOD_NOREPEAT = 0x4000
_WM_HOTKEY = 0x0312
_WM_QUIT = 0x0012
_WM_APP_COMMAND = 0x8000 + 1
_ERROR_HOTKEY_ALREADY_REGISTERED = 1409
_NAMED_VK = {
    "Space": 0x20,
    "Enter": 0x0D,
    "Tab": 0x09,
    "Escape": 0x1B,
    "Home": 0x24,
    "End": 0x23,
    "PageUp": 0x21,
    "PageDown": 0x22,
    "Insert": 0x2D,
    "Delete": 0x2E,
    "Up": 0x26,
    "Down": 0x28,
    "Left": 0x25,
    "Right": 0x27,
    "Pause": 0x13,
    "PrintScreen": 0x2C,
}


def virtual_key(key: str) -> int:
    """The Windows virtual-key code of a canonical key name."""
    if len(key) == 1:
        return ord(key)  # VK codes of A-Z and 0-9 are their upper-case ASCII codes
    if key.startswith("F") and key[1:].isdigit():
        return 0x70 + int(key[1:]) - 1  # VK_F1 = 0x70 … VK_F24 = 0x87
    return _NAMED_VK[key]


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    class WindowsHotkeys:
        """Hotkeys registered with `RegisterHotKey` in a thread of their own."""

        def __init__(self) -> None:
            self._user32 = ctypes.WinDLL("user32", use_last_error=True)
            self._kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            self._ids: dict[Hotkey, int] = {}
            self._callbacks: dict[int, tuple[Hotkey, Callback]] = {}
            self._next_id = 1
            self._commands: queue.Queue[tuple[Callable[[], None], Future[None]]] = queue.Queue()
            self._ready = threading.Event()
            self._thread_id = 0
            self._thread = threading.Thread(target=self._loop, name="rpa-hotkeys-win32", daemon=True)
            self._thread.start()
            self._ready.wait(5)

        def register(self, hotkey: Hotkey, callback: Callback) -> None:
            self._call(lambda: self._register(hotkey, callback))

        def unregister(self, hotkey: Hotkey) -> None:
            self._call(lambda: self._unregister(hotkey))

        def close(self) -> None:
            for hotkey in list(self._ids):
                self.unregister(hotkey)
            self._user32.PostThreadMessageW(self._thread_id, _WM_QUIT, 0, 0)
            self._thread.join(5)

        def _call(self, command: Callable[[], None]) -> None:
            done: Future[None] = Future()
            self._commands.put((command, done))
            if not self._user32.PostThreadMessageW(self._thread_id, _WM_APP_COMMAND, 0, 0):
                raise HotkeyUnavailable("the hotkey thread is not running")
            done.result(5)

        def _loop(self) -> None:
            message = wintypes.MSG()
            # The first call gives the thread its message queue, so PostThreadMessageW can reach it.
            self._user32.PeekMessageW(ctypes.byref(message), None, 0, 0, 0)
            self._thread_id = self._kernel32.GetCurrentThreadId()
            self._ready.set()
            while self._user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
                if message.message == _WM_APP_COMMAND:
                    self._run_commands()
                elif message.message == _WM_HOTKEY:
                    found = self._callbacks.get(int(message.wParam))
                    if found is not None:
                        found[1](found[0])

        def _run_commands(self) -> None:
            run_commands(self._commands)

        def _register(self, hotkey: Hotkey, callback: Callback) -> None:
            mods = _MOD_NOREPEAT
            for modifier in hotkey.modifiers:
                mods |= _MODS[modifier]
            number = self._next_id
            if not self._user32.RegisterHotKey(None, number, mods, virtual_key(hotkey.key)):
                if ctypes.get_last_error() == _ERROR_HOTKEY_ALREADY_REGISTERED:
                    raise HotkeyConflict(hotkey, "another program")
                raise HotkeyUnavailable(f"{hotkey} could not be registered (error {ctypes.get_last_error()})")
            self._next_id += 1
            self._ids[hotkey] = number
            self._callbacks[number] = (hotkey, callback)

        def _unregister(self, hotkey: Hotkey) -> None:
            number = self._ids.pop(hotkey, None)
            if number is not None:
                self._user32.UnregisterHotKey(None, number)
                self._callbacks.pop(number, None)
