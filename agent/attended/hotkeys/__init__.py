"""Global hotkeys: parse and format combinations, grab them on X11 or Windows, report conflicts."""

from agent.attended.hotkeys._base import Callback, HotkeyBackend, HotkeyConflict, HotkeyUnavailable
from agent.attended.hotkeys._combo import MAX_MODIFIERS, Hotkey, HotkeyError, format_hotkey, parse_hotkey
from agent.attended.hotkeys._manager import Hotkeys, default_backend

__all__ = [
    "MAX_MODIFIERS",
    "Callback",
    "Hotkey",
    "HotkeyBackend",
    "HotkeyConflict",
    "HotkeyError",
    "HotkeyUnavailable",
    "Hotkeys",
    "default_backend",
    "format_hotkey",
    "parse_hotkey",
]
