"""Global mouse and keyboard input on X11, read with the RECORD extension (python-xlib).

The listener runs in its own thread with its own display connections (an X connection is not
shared between threads) and calls back with each button or key press: (kind, detail, x, y,
state, keysym name, character). python-xlib comes with the `desktop` extra; without it, or
without an X display (Wayland, Windows), `start` raises `RuntimeError` saying so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

InputCallback = Callable[[str, int, int, int, int, str, str | None], None]
"""(kind `button`/`key`, button or keycode, root x, root y, modifier state, keysym name, character)."""


class XInputListener:
    """Reads button and key presses of the whole X display until `stop`."""

    def __init__(self, callback: InputCallback, display_name: str | None = None) -> None:
        self.callback = callback
        self.display_name = display_name
        self._thread: threading.Thread | None = None
        self._control: Any = None
        self._context: Any = None
        self._started = threading.Event()

    def start(self) -> None:
        """Start listening (returns once the X server records).

        Raises:
            RuntimeError: python-xlib missing, no X display, or no RECORD extension.
        """
        try:
            x, display, record = _xlib("X", "display", "ext.record")
            (error,) = _xlib("error")
        except ImportError:
            raise RuntimeError("recording desktop input needs python-xlib: install the desktop extra") from None
        try:
            self._control = display.Display(self.display_name)
            recorder = display.Display(self.display_name)
        except error.DisplayError as err:
            raise RuntimeError(f"recording desktop input needs an X display: {err}") from None
        if not recorder.has_extension("RECORD"):
            raise RuntimeError("the X server has no RECORD extension: desktop input cannot be recorded")
        spec = {
            "core_requests": (0, 0),
            "core_replies": (0, 0),
            "ext_requests": (0, 0, 0, 0),
            "ext_replies": (0, 0, 0, 0),
            "delivered_events": (0, 0),
            "device_events": (x.KeyPress, x.ButtonPress),
            "errors": (0, 0),
            "client_started": False,
            "client_died": False,
        }
        self._context = recorder.record_create_context(0, [record.AllClients], [spec])
        self._thread = threading.Thread(target=self._run, args=(recorder,), name="x-input", daemon=True)
        self._thread.start()
        self._started.wait(5)

    def _run(self, recorder: Any) -> None:
        X, XK, record, rq = _xlib("X", "XK", "ext.record", "protocol.rq")

        names = _keysym_names(XK)

        def on_reply(reply: Any) -> None:
            if reply.category != record.FromServer or reply.client_swapped or not reply.data:
                return
            data = reply.data
            while data:
                event, data = rq.EventField(None).parse_binary_value(data, recorder.display, None, None)
                if event.type == X.ButtonPress:
                    self.callback("button", event.detail, event.root_x, event.root_y, event.state, "", None)
                elif event.type == X.KeyPress:
                    index = 1 if event.state & X.ShiftMask else 0
                    keysym = recorder.keycode_to_keysym(event.detail, index)
                    text = XK.keysym_to_string(keysym)
                    character = text if text is not None and len(text) == 1 and text.isprintable() else None
                    label = names.get(keysym, "")
                    self.callback("key", event.detail, event.root_x, event.root_y, event.state, label, character)

        self._started.set()
        try:
            recorder.record_enable_context(self._context, on_reply)
        finally:
            recorder.record_free_context(self._context)
            recorder.close()

    def stop(self) -> None:
        """Stop listening and wait for the thread."""
        if self._control is not None and self._context is not None:
            self._control.record_disable_context(self._context)
            self._control.flush()
        if self._thread is not None:
            self._thread.join(5)
        if self._control is not None:
            self._control.close()
        self._control = self._context = self._thread = None


def _xlib(*modules: str) -> list[Any]:
    """python-xlib's modules, typed as Any (it ships no type information)."""
    import importlib

    return [importlib.import_module(f"Xlib.{name}") for name in modules]


def _keysym_names(xk: Any) -> dict[int, str]:
    """X's names of the keysyms (`a`, `Return`, `F5`), the first name of each."""
    names: dict[int, str] = {}
    for name in dir(xk):
        if name.startswith("XK_"):
            names.setdefault(getattr(xk, name), name[3:])
    return names
