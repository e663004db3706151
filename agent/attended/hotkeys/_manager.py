"""The agent's hotkeys: one registration per combination, our own conflicts caught first.

`Hotkeys` keeps which purpose holds each combination (a flow's run, the pause, the stop), so a
second purpose asking for the same combination gets a `HotkeyConflict` naming the first, before
the platform is asked; the platform's own conflicts (another program) come from the backend.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from agent.attended._cache import CachedFlow
from agent.attended.hotkeys._base import Callback, HotkeyBackend, HotkeyConflict, HotkeyUnavailable
from agent.attended.hotkeys._combo import Hotkey, HotkeyError, parse_hotkey


def default_backend(display: str | None = None) -> HotkeyBackend:
    """The backend of this platform: X11 grabs on Linux, `RegisterHotKey` on Windows.

    Raises:
        HotkeyUnavailable: none works here (no display, no python-xlib, macOS).
    """
    if sys.platform == "win32":
        from agent.attended.hotkeys._windows import WindowsHotkeys

        return WindowsHotkeys()
    if sys.platform.startswith("linux"):
        from agent.attended.hotkeys._x11 import X11Hotkeys

        return X11Hotkeys(display)
    raise HotkeyUnavailable(f"global hotkeys are not supported on {sys.platform} yet")


class Hotkeys:
    """Registered combinations, each with its purpose ("flow 'Invoices'", "pause").

    Args:
        backend: the platform's grabs (default: `default_backend()`).
    """

    def __init__(self, backend: HotkeyBackend | None = None) -> None:
        self.backend = backend or default_backend()
        self.purposes: dict[Hotkey, str] = {}

    def register(self, combination: str | Hotkey, purpose: str, callback: Callback) -> Hotkey:
        """Register `combination` for `purpose`.

        Raises:
            HotkeyError: not a valid combination.
            HotkeyConflict: already ours for another purpose, or another program's.
        """
        hotkey = parse_hotkey(combination) if isinstance(combination, str) else combination
        holder = self.purposes.get(hotkey)
        if holder is not None and holder != purpose:
            raise HotkeyConflict(hotkey, holder)
        self.backend.register(hotkey, callback)
        self.purposes[hotkey] = purpose
        return hotkey

    def unregister(self, hotkey: Hotkey) -> None:
        """Release one combination."""
        self.backend.unregister(hotkey)
        self.purposes.pop(hotkey, None)

    def register_flows(self, flows: Iterable[CachedFlow], start: Callback) -> dict[str, str]:
        """Register the hotkey of each cached flow that has one (`settings.hotkey`).

        Returns:
            The problems, by workflow id: an invalid combination or a conflict, in words.
        """
        problems: dict[str, str] = {}
        for flow in flows:
            if flow.hotkey is None:
                continue
            try:
                self.register(flow.hotkey, f"flow '{flow.name}'", start)
            except (HotkeyError, HotkeyConflict, HotkeyUnavailable) as exc:
                problems[flow.workflow_id] = str(exc)
        return problems

    def flow_of(self, hotkey: Hotkey, flows: Iterable[CachedFlow]) -> CachedFlow | None:
        """The cached flow whose hotkey is `hotkey`."""
        for flow in flows:
            if flow.hotkey is not None:
                try:
                    if parse_hotkey(flow.hotkey) == hotkey:
                        return flow
                except HotkeyError:
                    continue
        return None

    def close(self) -> None:
        """Release everything."""
        self.purposes.clear()
        self.backend.close()
