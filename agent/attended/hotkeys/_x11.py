"""Global hotkeys on X11: `XGrabKey` on the root window, in a thread with its own display connection.

A grab (not a listener) takes the key from every other application and tells us when another
client already holds the combination: the X server answers `BadAccess`, reported as a
`HotkeyConflict` naming it. Every combination is grabbed once per lock-key state (NumLock,
CapsLock, ScrollLock on or off: 8 grabs), so it fires whatever the user's lock keys are.

python-xlib (LGPL-2.1) is an optional dependency, imported here only, when hotkeys start.

The connection belongs to the thread: `register` and `unregister` are handed to it through a
queue (woken by a pipe) and wait for its answer, so the thread alone touches the display.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import re
import select
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from agent.attended.hotkeys._base import Callback, HotkeyConflict, HotkeyUnavailable, run_commands
from agent.attended.hotkeys._combo import Hotkey

log = logging.getLogger("rpa.agent.hotkeys")

_KEYSYMS = {"Enter": "Return", "PageUp": "Prior", "PageDown": "Next", "PrintScreen": "Print", "Space": "space"}
_TIMEOUT_S = 5.0
_VT_KEY = re.compile(r"^F([1-9]|1[0-2])$")


class X11Hotkeys:
    """Hotkeys grabbed on an X display.

    Args:
        display: the X display name (default: `$DISPLAY`).

    Raises:
        HotkeyUnavailable: python-xlib is not installed, or the display cannot be opened.
    """

    def __init__(self, display: str | None = None) -> None:
        try:
            from Xlib import display as xdisplay
            from Xlib import error as xerror
        except ImportError:
            raise HotkeyUnavailable(
                "global hotkeys on X11 need python-xlib: install the agent's 'attended' extra"
            ) from None
        try:
            self._display: Any = xdisplay.Display(display)
        except (xerror.DisplayError, xerror.ConnectionClosedError) as exc:
            raise HotkeyUnavailable(
                f"cannot open the X display {display or os.environ.get('DISPLAY')}: {exc}"
            ) from None
        self._root = self._display.screen().root
        self._locks = self._lock_masks()
        self._grabs: dict[tuple[int, int], tuple[Hotkey, Callback]] = {}
        self._commands: queue.Queue[tuple[Callable[[], None], Future[None]]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rpa-hotkeys-x11", daemon=True)
        self._thread.start()

    # --- public API (any thread) -----------------------------------------------------------------

    def register(self, hotkey: Hotkey, callback: Callback) -> None:
        """Grab `hotkey` (in every lock-key state).

        Raises:
            HotkeyConflict: another X client holds the combination ("another program").
        """
        self._call(lambda: self._grab(hotkey, callback))

    def unregister(self, hotkey: Hotkey) -> None:
        """Release `hotkey`."""
        self._call(lambda: self._ungrab(hotkey))

    def close(self) -> None:
        """Release every grab, stop the thread and close the connection."""
        if self._stop.is_set():
            return
        with contextlib.suppress(Exception):
            self._call(self._ungrab_all)
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(_TIMEOUT_S)
        with contextlib.suppress(Exception):
            self._display.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- in the thread ---------------------------------------------------------------------------

    def _call(self, command: Callable[[], None]) -> None:
        if self._stop.is_set():
            raise HotkeyUnavailable("the hotkeys were closed")
        done: Future[None] = Future()
        self._commands.put((command, done))
        os.write(self._wake_w, b"c")
        done.result(_TIMEOUT_S)

    def _loop(self) -> None:
        fileno = self._display.fileno()
        while not self._stop.is_set():
            readable, _, _ = select.select([fileno, self._wake_r], [], [], 0.5)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
                self._run_commands()
            try:
                while self._display.pending_events():
                    self._dispatch(self._display.next_event())
            except Exception:  # the display went away: nothing more will come
                if not self._stop.is_set():
                    log.exception("the X display of the hotkeys failed; hotkeys stop")
                return

    def _run_commands(self) -> None:
        run_commands(self._commands)

    def _dispatch(self, event: Any) -> None:
        from Xlib import X

        if event.type != X.KeyPress:
            return
        state = event.state & ~self._locks_all & 0xFF
        found = self._grabs.get((event.detail, state))
        if found is None:
            return
        hotkey, callback = found
        try:
            callback(hotkey)
        except Exception:  # a broken callback must not stop the other hotkeys
            log.exception("the callback of hotkey %s failed", hotkey)

    # --- grabs -----------------------------------------------------------------------------------

    def _lock_masks(self) -> list[int]:
        """The modifier masks of NumLock and ScrollLock (from the server's mapping), and CapsLock."""
        from Xlib import XK, X

        masks = {"Num_Lock": X.Mod2Mask, "Scroll_Lock": X.Mod5Mask}
        mapping = self._display.get_modifier_mapping()
        for name in masks:
            code = self._display.keysym_to_keycode(XK.string_to_keysym(name))
            for index, codes in enumerate(mapping):
                if code and code in codes:
                    masks[name] = 1 << index
        return [X.LockMask, masks["Num_Lock"], masks["Scroll_Lock"]]

    @property
    def _locks_all(self) -> int:
        return self._locks[0] | self._locks[1] | self._locks[2]

    def _keycode(self, hotkey: Hotkey) -> int:
        from Xlib import XK

        name = _KEYSYMS.get(hotkey.key, hotkey.key.lower() if len(hotkey.key) == 1 else hotkey.key)
        code = int(self._display.keysym_to_keycode(XK.string_to_keysym(name)))
        if not code:
            raise HotkeyUnavailable(f"the keyboard of this display has no key {hotkey.key} (for {hotkey})")
        return code

    @staticmethod
    def _mask(hotkey: Hotkey) -> int:
        from Xlib import X

        bits = {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "super": X.Mod4Mask}
        mask = 0
        for modifier in hotkey.modifiers:
            mask |= bits[modifier]
        return mask

    def _variants(self, mask: int) -> list[int]:
        return [
            mask | sum(combo) for n in range(len(self._locks) + 1) for combo in itertools.combinations(self._locks, n)
        ]

    def _grab(self, hotkey: Hotkey, callback: Callback) -> None:
        from Xlib import X
        from Xlib import error as xerror

        if hotkey.modifiers == {"ctrl", "alt"} and _VT_KEY.match(hotkey.key):
            # XKB turns Ctrl+Alt+F1..F12 into a virtual-terminal switch inside the X server: the
            # press never reaches any client, so a grab would be granted and never fire.
            raise HotkeyUnavailable(
                f"{hotkey} switches virtual terminals under X11 and never reaches an application; "
                f"add Shift (Ctrl+Alt+Shift+{hotkey.key}) or choose another combination"
            )
        code, mask = self._keycode(hotkey), self._mask(hotkey)
        if (code, mask) in self._grabs:
            self._grabs[(code, mask)] = (hotkey, callback)
            return
        catcher = xerror.CatchError(xerror.BadAccess)
        for variant in self._variants(mask):
            self._root.grab_key(code, variant, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
        self._display.sync()  # the server's answer to every grab is in before we look
        if catcher.get_error() is not None:
            for variant in self._variants(mask):  # whatever part was granted goes back
                self._root.ungrab_key(code, variant)
            self._display.sync()
            raise HotkeyConflict(hotkey, "another program")
        self._grabs[(code, mask)] = (hotkey, callback)

    def _ungrab(self, hotkey: Hotkey) -> None:
        code, mask = self._keycode(hotkey), self._mask(hotkey)
        if self._grabs.pop((code, mask), None) is None:
            return
        for variant in self._variants(mask):
            self._root.ungrab_key(code, variant)
        self._display.sync()

    def _ungrab_all(self) -> None:
        for hotkey, _ in list(self._grabs.values()):
            self._ungrab(hotkey)
