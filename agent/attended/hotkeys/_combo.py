"""Hotkey combinations: "Ctrl+Alt+Shift+F5" parsed, checked and written back one way.

Up to three modifiers (Ctrl, Alt, Shift, Super) and one key: a letter, a digit, F1-F24, or a
named key (Space, Enter, Tab, Escape, Home, End, PageUp, PageDown, Insert, Delete, Up, Down, Left,
Right, Pause, PrintScreen). At least one modifier, except for F-keys, Pause and PrintScreen,
which are rarely typed otherwise. Names are case-insensitive; `Control`, `Win`, `Meta`, `Cmd`
and `Super` are accepted aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODIFIERS = ("ctrl", "alt", "shift", "super")
"""In the order they are written."""
_ALIASES = {"control": "ctrl", "ctl": "ctrl", "win": "super", "meta": "super", "cmd": "super", "option": "alt"}
MAX_MODIFIERS = 3
_NAMED = {
    "space": "Space",
    "enter": "Enter",
    "return": "Enter",
    "tab": "Tab",
    "escape": "Escape",
    "esc": "Escape",
    "home": "Home",
    "end": "End",
    "pageup": "PageUp",
    "pagedown": "PageDown",
    "insert": "Insert",
    "delete": "Delete",
    "del": "Delete",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pause": "Pause",
    "printscreen": "PrintScreen",
    "print": "PrintScreen",
}
_ALONE = re.compile(r"^(F([1-9]|1[0-9]|2[0-4])|Pause|PrintScreen)$")


class HotkeyError(ValueError):
    """A combination that cannot be a hotkey (the message says why and quotes it)."""


@dataclass(frozen=True)
class Hotkey:
    """One combination: its modifiers and its key, e.g. `Hotkey(frozenset({"ctrl", "alt"}), "F5")`."""

    modifiers: frozenset[str]
    key: str
    """Canonical: an upper-case letter, a digit, `F1`-`F24`, or a named key (`PageUp`)."""

    def __str__(self) -> str:
        return "+".join([*(m.capitalize() for m in MODIFIERS if m in self.modifiers), self.key])


def _key(name: str, text: str) -> str:
    lowered = name.lower()
    if len(name) == 1 and name.isascii() and name.isalnum():
        return name.upper()
    if re.fullmatch(r"f([1-9]|1[0-9]|2[0-4])", lowered):
        return lowered.upper()
    if lowered in _NAMED:
        return _NAMED[lowered]
    raise HotkeyError(f"'{text}': '{name}' is not a key a hotkey can use (a letter, a digit, F1-F24, or a named key)")


def parse_hotkey(text: str) -> Hotkey:
    """Parse "Ctrl+Alt+F5" (any case, spaces around `+` allowed).

    Raises:
        HotkeyError: empty, an unknown key or modifier, a modifier twice, more than three
            modifiers, no key, or no modifier with a key that needs one.
    """
    parts = [part.strip() for part in text.split("+")]
    if not text.strip() or any(not part for part in parts):
        raise HotkeyError(f"'{text}' is not a hotkey: write it as modifiers and a key, e.g. 'Ctrl+Alt+F5'")
    *mods, last = parts
    modifiers: list[str] = []
    for name in mods:
        modifier = _ALIASES.get(name.lower(), name.lower())
        if modifier not in MODIFIERS:
            raise HotkeyError(f"'{text}': '{name}' is not a modifier (Ctrl, Alt, Shift or Super)")
        if modifier in modifiers:
            raise HotkeyError(f"'{text}': {modifier.capitalize()} appears twice")
        modifiers.append(modifier)
    if _ALIASES.get(last.lower(), last.lower()) in MODIFIERS:
        raise HotkeyError(f"'{text}' has no key after its modifiers")
    if len(modifiers) > MAX_MODIFIERS:
        raise HotkeyError(f"'{text}' has {len(modifiers)} modifiers; a hotkey has at most {MAX_MODIFIERS}")
    key = _key(last, text)
    if not modifiers and not _ALONE.match(key):
        raise HotkeyError(f"'{text}' needs a modifier (Ctrl, Alt, Shift or Super): the key alone is typed every day")
    return Hotkey(frozenset(modifiers), key)


def format_hotkey(hotkey: Hotkey | str) -> str:
    """The canonical text of a hotkey ("ctrl+alt+f5" → "Ctrl+Alt+F5")."""
    return str(parse_hotkey(hotkey) if isinstance(hotkey, str) else hotkey)
