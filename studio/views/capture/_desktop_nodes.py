"""Desktop input turned into `desktop.*` nodes (Qt-free, X-free): the recorder's grammar.

A click becomes `desktop.click` on an image target (the screen around the pointer, saved as a
flow asset by the caller); printable keys typed one after another grow one `desktop.type`
(Backspace takes the last character back); named keys become `desktop.press`, and a key held
with Ctrl, Alt or Super a `desktop.hotkey`. Key names are the keyboard steps' (pyautogui's).
"""

from __future__ import annotations

from typing import Any

X_KEYS: dict[str, str] = {
    "Return": "enter",
    "KP_Enter": "enter",
    "Tab": "tab",
    "ISO_Left_Tab": "tab",
    "Escape": "esc",
    "BackSpace": "backspace",
    "Delete": "delete",
    "Insert": "insert",
    "Home": "home",
    "End": "end",
    "Prior": "pageup",
    "Next": "pagedown",
    "Up": "up",
    "Down": "down",
    "Left": "left",
    "Right": "right",
    "space": "space",
    **{f"F{n}": f"f{n}" for n in range(1, 13)},
}
"""X keysym names to the keyboard steps' key names."""
MODIFIERS = {"Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Alt_R", "Super_L", "Super_R", "Meta_L"}
"""Keys that only modify others: never a node of their own."""
SHIFT, CONTROL, ALT, SUPER = 1 << 0, 1 << 2, 1 << 3, 1 << 6
"""X modifier state bits (Mod1 is Alt, Mod4 is Super on common layouts)."""
BUTTONS = {1: "left", 2: "middle", 3: "right"}


class DesktopActions:
    """The nodes recorded so far."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self._counter = 0

    def _add(self, step: str, params: dict[str, Any]) -> dict[str, Any]:
        self._counter += 1
        node = {"id": f"{step.rsplit('.', 1)[-1]}_{self._counter}", "type": step, "params": params}
        self.nodes.append(node)
        return node

    def click(self, button: int, target: str) -> dict[str, Any] | None:
        """A mouse button pressed on `target` (an `image:` target); None for wheel buttons."""
        name = BUTTONS.get(button)
        if name is None:
            return None
        last = self.nodes[-1] if self.nodes else None
        if last is not None and last["type"] == "desktop.click" and last["params"].get("target") == target:
            last["params"]["clicks"] = min(3, int(last["params"].get("clicks", 1)) + 1)
            return last
        params: dict[str, Any] = {"target": target}
        if name != "left":
            params["button"] = name
        return self._add("desktop.click", params)

    def key(self, keysym: str, character: str | None, state: int) -> dict[str, Any] | None:
        """A key pressed: `keysym` is X's name (`a`, `Return`), `character` what it types, if anything."""
        if keysym in MODIFIERS:
            return None
        held = [name for bit, name in ((CONTROL, "ctrl"), (ALT, "alt"), (SUPER, "win")) if state & bit]
        name = X_KEYS.get(keysym) or (keysym.lower() if len(keysym) == 1 else None)
        if held and name is not None:
            if state & SHIFT:
                held.append("shift")
            return self._add("desktop.hotkey", {"keys": [*held, name]})
        last = self.nodes[-1] if self.nodes else None
        typing = last is not None and last["type"] == "desktop.type"
        if keysym == "BackSpace" and typing and last is not None and last["params"]["text"]:
            last["params"]["text"] = last["params"]["text"][:-1]
            return last
        if (character and character.isprintable() and keysym not in X_KEYS) or keysym == "space":
            text = " " if keysym == "space" else str(character)
            if typing and last is not None:
                last["params"]["text"] += text
                return last
            return self._add("desktop.type", {"text": text})
        if name is None:
            return None
        if last is not None and last["type"] == "desktop.press" and last["params"]["keys"] == [name]:
            last["params"]["presses"] = int(last["params"].get("presses", 1)) + 1
            return last
        return self._add("desktop.press", {"keys": [name]})
