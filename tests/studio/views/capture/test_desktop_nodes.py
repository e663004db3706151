"""The desktop recorder's grammar: clicks, typing, named keys and hotkeys as desktop.* nodes."""

from __future__ import annotations

from studio.views.capture import DesktopActions
from studio.views.capture._desktop_nodes import ALT, CONTROL, SHIFT


def test_repeated_clicks_merge_and_other_buttons_are_named() -> None:
    actions = DesktopActions()
    actions.click(1, "image:a.png")
    actions.click(1, "image:a.png")
    actions.click(3, "image:b.png")
    assert actions.click(4, "image:b.png") is None  # the wheel is no click
    assert [n["params"] for n in actions.nodes] == [
        {"target": "image:a.png", "clicks": 2},
        {"target": "image:b.png", "button": "right"},
    ]


def test_keys_become_typing_presses_and_hotkeys() -> None:
    actions = DesktopActions()
    for keysym, char in (("A", "A"), ("b", "b"), ("space", " "), ("exclam", "!")):
        actions.key(keysym, char, SHIFT if char in "A!" else 0)
    actions.key("BackSpace", None, 0)
    actions.key("Shift_L", None, 0)  # a modifier alone is nothing
    actions.key("F5", None, 0)
    actions.key("s", "s", CONTROL | SHIFT)
    actions.key("Tab", None, ALT)
    actions.key("Escape", None, 0)
    assert [(n["type"], n["params"]) for n in actions.nodes] == [
        ("desktop.type", {"text": "Ab "}),
        ("desktop.press", {"keys": ["f5"]}),
        ("desktop.hotkey", {"keys": ["ctrl", "shift", "s"]}),
        ("desktop.hotkey", {"keys": ["alt", "tab"]}),
        ("desktop.press", {"keys": ["esc"]}),
    ]
