"""Mouse, keyboard and clipboard steps driving a real Tk window on the suite's Xvfb."""

from __future__ import annotations

from typing import Any

import pytest

from agent.steps.desktop._keyboard import hotkey, key_down, key_up, press, type_text
from agent.steps.desktop._mouse import click, drag, move, scroll
from agent.steps.desktop._system import clipboard_get, clipboard_set
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.desktop.conftest import FormApp

pytestmark = pytest.mark.desktop

WINDOW = "RPA Test*"
ENTRY = "point:150,35"  # inside the window: the entry at (20, 20), 30 characters wide
CANVAS = "region:20,180,620,400"


def kinds(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in state["events"] if e["kind"] == kind]


async def test_typing_lands_in_the_entry(form_app: FormApp) -> None:
    env = StepEnvironment()
    result = await env.run(type_text, {"target": ENTRY, "window": WINDOW, "text": "Hello, world 42!"})

    assert result == {"characters": 16}
    form_app.wait_for(lambda s: s["entry"] == "Hello, world 42!")


async def test_a_credential_is_typed_by_name_and_never_logged(form_app: FormApp) -> None:
    env = StepEnvironment(secrets={"erp.password": "s3cr3t-Pa$$"})
    await env.run(type_text, {"target": ENTRY, "window": WINDOW, "credential": "erp.password"})

    form_app.wait_for(lambda s: s["entry"] == "s3cr3t-Pa$$")
    assert all("s3cr3t" not in message for _level, message in env.logs)


async def test_characters_outside_the_us_keys_are_typed_too(form_app: FormApp) -> None:
    await StepEnvironment().run(type_text, {"target": ENTRY, "window": WINDOW, "text": "Zoë €5"})
    form_app.wait_for(lambda s: s["entry"] == "Zoë €5")


async def test_press_and_hotkey_edit_the_entry(form_app: FormApp) -> None:
    env = StepEnvironment()
    await env.run(type_text, {"target": ENTRY, "window": WINDOW, "text": "abcd"})
    await env.run(press, {"keys": ["backspace"], "presses": 2})
    form_app.wait_for(lambda s: s["entry"] == "ab")
    # Tk's entry: ctrl+a moves to the line start, so the next text goes first.
    await env.run(hotkey, {"keys": ["ctrl", "a"]})
    await env.run(type_text, {"text": "X"})
    form_app.wait_for(lambda s: s["entry"] == "Xab")


async def test_a_held_key_stays_down_until_released_and_the_execution_end_releases_it(form_app: FormApp) -> None:
    env = StepEnvironment()
    await env.run(move, {"target": ENTRY, "window": WINDOW})
    await env.run(key_down, {"key": "shift"})
    await env.run(type_text, {"text": "ab"})
    form_app.wait_for(lambda s: s["entry"] == "AB")
    assert await env.run(key_up, {"key": "shift"}) == {"key": "shift", "was_held": True}
    await env.run(type_text, {"text": "c"})
    form_app.wait_for(lambda s: s["entry"] == "ABc")

    await env.run(key_down, {"key": "shift"})
    await env.aclose()  # the end of the execution
    await StepEnvironment().run(type_text, {"text": "d"})
    form_app.wait_for(lambda s: s["entry"] == "ABcd")


async def test_right_middle_and_double_clicks_arrive_where_aimed(form_app: FormApp) -> None:
    env = StepEnvironment()
    target = f"{CANVAS} >> point:100,50"
    out = await env.run(click, {"target": target, "window": WINDOW, "button": "right"})
    assert (out["x"], out["y"]) == (100 + 20 + 100, 80 + 180 + 50)
    await env.run(click, {"target": target, "window": WINDOW, "button": "middle"})
    await env.run(click, {"target": f"{CANVAS} >> point:300,100", "window": WINDOW, "clicks": 2})

    state = form_app.wait_for(lambda s: len(kinds(s, "double")) == 1)
    # Tk reports the second press of a double click as the double-click event, not a press.
    assert [(e["num"], e["x"], e["y"]) for e in kinds(state, "press")] == [(3, 100, 50), (2, 100, 50), (1, 300, 100)]
    assert [(e["x"], e["y"]) for e in kinds(state, "double")] == [(300, 100)]


async def test_drag_presses_moves_and_releases(form_app: FormApp) -> None:
    await StepEnvironment().run(
        drag, {"target": f"{CANVAS} >> point:50,50", "to": f"{CANVAS} >> point:250,150", "window": WINDOW}
    )
    state = form_app.wait_for(lambda s: len(kinds(s, "release")) == 1)
    assert [(e["x"], e["y"]) for e in kinds(state, "press")] == [(50, 50)]
    assert [(e["x"], e["y"]) for e in kinds(state, "release")] == [(250, 150)]
    assert state["last_drag"] == [250, 150]


async def test_scroll_turns_the_wheel_over_the_target(form_app: FormApp) -> None:
    env = StepEnvironment()
    await env.run(scroll, {"amount": -3, "target": f"{CANVAS} >> point:10,10", "window": WINDOW})
    await env.run(scroll, {"amount": 2})
    state = form_app.wait_for(lambda s: len(kinds(s, "scroll_up")) == 2)
    assert len(kinds(state, "scroll_down")) == 3


async def test_the_clipboard_round_trips_and_pastes_into_another_application(form_app: FormApp) -> None:
    env = StepEnvironment()
    await env.run(clipboard_set, {"text": "Invoice 2026-0042 ✓"})
    assert await env.run(clipboard_get) == "Invoice 2026-0042 ✓"

    await env.run(click, {"target": ENTRY, "window": WINDOW})
    await env.run(hotkey, {"keys": ["ctrl", "v"]})  # Tk reads the X clipboard owned by xclip
    form_app.wait_for(lambda s: s["entry"] == "Invoice 2026-0042 ✓")


async def test_an_unknown_key_name_is_refused_before_anything_is_pressed(xvfb: object) -> None:
    with pytest.raises(StepError, match=r"unknown key name 'ctlr' \(did you mean ctrl") as caught:
        await StepEnvironment().run(hotkey, {"keys": ["ctlr", "c"]})
    assert caught.value.kind == "validation"
