"""Global hotkeys: combinations parsed and written one way; under a real Xvfb, an X11 grab fires
on `xdotool key` whatever the lock keys, another client's grab is reported as a conflict, ours are
caught before the X server is asked, and a press starts a flow whose first step runs."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.attended import FlowCache, start_attended
from agent.attended.hotkeys import (
    Hotkey,
    HotkeyConflict,
    HotkeyError,
    Hotkeys,
    HotkeyUnavailable,
    format_hotkey,
    parse_hotkey,
)
from agent.attended.hotkeys._x11 import X11Hotkeys
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.memory_orchestrator import until, wait_flow
from tests.xvfb import xvfb_display


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ctrl+alt+f5", "Ctrl+Alt+F5"),
        ("Shift + Control + a", "Ctrl+Shift+A"),
        ("Win+Alt+Shift+PageDown", "Alt+Shift+Super+PageDown"),
        ("ctrl+alt+7", "Ctrl+Alt+7"),
        ("F9", "F9"),
        ("alt+esc", "Alt+Escape"),
    ],
)
def test_a_combination_is_parsed_and_written_back_one_way(text: str, expected: str) -> None:
    assert format_hotkey(text) == expected
    assert parse_hotkey(expected) == parse_hotkey(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "is not a hotkey"),
        ("ctrl+", "is not a hotkey"),
        ("ctrl+alt", "has no key"),
        ("hyper+a", "'hyper' is not a modifier"),
        ("ctrl+ctrl+a", "Ctrl appears twice"),
        ("ctrl+alt+shift+super+a", "has 4 modifiers; a hotkey has at most 3"),
        ("ctrl+F25", "'F25' is not a key"),
        ("a", "needs a modifier"),
    ],
)
def test_a_combination_that_cannot_be_a_hotkey_says_why(text: str, why: str) -> None:
    with pytest.raises(HotkeyError) as caught:
        parse_hotkey(text)
    assert why in str(caught.value)
    assert f"'{text}'" in str(caught.value)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is not installed: run installer/system-deps.sh (package xdotool)")
    from Xlib import display as xdisplay

    with xvfb_display(640, 480) as name:
        # Xvfb resets when its last client leaves, refusing connections meanwhile: keep one open.
        keeper = xdisplay.Display(name)
        try:
            yield name
        finally:
            keeper.close()


def _press(display: str, keys: str) -> None:
    subprocess.run(["xdotool", "key", keys], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


@pytest.mark.desktop
def test_a_grab_fires_on_a_press_whatever_the_lock_keys(display: str) -> None:
    backend = X11Hotkeys(display)
    pressed: list[Hotkey] = []
    fired = threading.Event()
    try:
        backend.register(parse_hotkey("Ctrl+Alt+Shift+F5"), lambda h: (pressed.append(h), fired.set()))
        _press(display, "ctrl+alt+shift+F5")
        assert fired.wait(5)
        fired.clear()
        _press(display, "Num_Lock")  # NumLock on: the same combination still fires
        _press(display, "ctrl+alt+shift+F5")
        assert fired.wait(5)
        _press(display, "Num_Lock")
        fired.clear()
        _press(display, "Caps_Lock")  # CapsLock on too
        _press(display, "ctrl+alt+shift+F5")
        assert fired.wait(5)
        _press(display, "Caps_Lock")
        fired.clear()
        _press(display, "ctrl+shift+F5")  # another combination: not ours
        assert not fired.wait(0.3)
        assert [str(h) for h in pressed] == ["Ctrl+Alt+Shift+F5"] * 3
        backend.unregister(parse_hotkey("Ctrl+Alt+Shift+F5"))
        _press(display, "ctrl+alt+shift+F5")
        assert not fired.wait(0.3)
    finally:
        backend.close()


@pytest.mark.desktop
def test_a_combination_another_client_holds_is_a_conflict_naming_it(display: str) -> None:
    from Xlib import XK, X
    from Xlib import display as xdisplay

    other = xdisplay.Display(display)  # another program, grabbing first
    code = other.keysym_to_keycode(XK.string_to_keysym("h"))
    other.screen().root.grab_key(code, X.ControlMask | X.Mod1Mask, True, X.GrabModeAsync, X.GrabModeAsync)
    other.sync()
    backend = X11Hotkeys(display)
    try:
        with pytest.raises(HotkeyConflict, match=r"Ctrl\+Alt\+H is already in use by another program"):
            backend.register(parse_hotkey("ctrl+alt+h"), lambda _h: None)
        backend.register(parse_hotkey("ctrl+alt+j"), lambda _h: None)  # control: a free one is granted
        other.close()  # the other program quits: the combination is free
        backend.register(parse_hotkey("ctrl+alt+h"), lambda _h: None)
    finally:
        backend.close()


@pytest.mark.desktop
def test_ctrl_alt_f1_to_f12_is_refused_as_the_x_server_keeps_it(display: str) -> None:
    backend = X11Hotkeys(display)
    try:
        with pytest.raises(HotkeyUnavailable, match=r"Ctrl\+Alt\+F5 switches virtual terminals"):
            backend.register(parse_hotkey("ctrl+alt+F5"), lambda _h: None)
    finally:
        backend.close()


@pytest.mark.desktop
def test_our_own_registrations_conflict_before_the_x_server_is_asked(display: str) -> None:
    hotkeys = Hotkeys(X11Hotkeys(display))
    try:
        hotkeys.register("Ctrl+Alt+P", "pause", lambda _h: None)
        with pytest.raises(HotkeyConflict, match=r"Ctrl\+Alt\+P is already in use by pause"):
            hotkeys.register("ctrl+alt+p", "flow 'Invoices'", lambda _h: None)
    finally:
        hotkeys.close()


# python-xlib leaves the socket of a failed connection to the collector (its warning, not ours).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_no_display_is_a_clear_unavailability() -> None:
    with pytest.raises(HotkeyUnavailable, match="cannot open the X display :999"):
        X11Hotkeys(":999")


@pytest.mark.desktop
async def test_a_hotkey_starts_its_cached_flow_and_its_first_step_runs(display: str, tmp_path: Path) -> None:
    document = wait_flow(2) | {"settings": {"hotkey": "ctrl+alt+shift+F8"}}
    cache = FlowCache(tmp_path / "flows")
    cache.put("0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c0d", 4, document)
    runtime = make_runtime(tmp_path, ReportingOrchestrator())  # never started: the orchestrator is away
    loop = asyncio.get_running_loop()
    runs = []

    def start(hotkey: Hotkey) -> None:  # in the hotkeys' thread: the run starts on the loop
        flow = hotkeys.flow_of(hotkey, cache.all())
        assert flow is not None
        loop.call_soon_threadsafe(
            lambda: runs.append(
                start_attended(runtime, flow, trigger={"type": "hotkey", "hotkey": str(hotkey)}, user_id=None)
            )
        )

    hotkeys = Hotkeys(X11Hotkeys(display))
    try:
        assert hotkeys.register_flows(cache.all(), start) == {}
        await asyncio.to_thread(_press, display, "ctrl+alt+shift+F8")
        await until(lambda: bool(runs), what="the run to start")
        run = runs[0]
        await until(
            lambda: any(e.type == "node.started" and e.path == "s0" for e in runtime.outbox.events(run.execution_id)),
            what="the first step to start",
        )
        assert run.trigger == {"type": "hotkey", "hotkey": "Ctrl+Alt+Shift+F8"}
        await run.wait()
    finally:
        hotkeys.close()
        await runtime.stop()


@pytest.mark.desktop
async def test_pause_and_stop_hotkeys_act_on_the_current_run(display: str, tmp_path: Path) -> None:
    from agent.attended import AttendedController

    cache = FlowCache(tmp_path / "flows")
    cache.put(
        "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", 2, wait_flow(40, 0.05) | {"settings": {"hotkey": "ctrl+shift+F9"}}
    )
    runtime = make_runtime(tmp_path, ReportingOrchestrator())
    controller = AttendedController(runtime, cache, user_id=None, hotkeys=Hotkeys(X11Hotkeys(display)))
    try:
        assert controller.bind() == {}
        await asyncio.to_thread(_press, display, "ctrl+shift+F9")
        await until(lambda: controller.current is not None, what="the run to start")
        run = controller.current
        assert run is not None
        await asyncio.to_thread(_press, display, "ctrl+alt+shift+p")
        await until(lambda: run.gate.held_at is not None, what="the pause hotkey to hold the run")
        await asyncio.to_thread(_press, display, "ctrl+alt+shift+p")
        await until(lambda: run.gate.held_at is None, what="the pause hotkey again to resume it")
        await asyncio.to_thread(_press, display, "ctrl+alt+shift+s")
        await asyncio.wait_for(run.wait(), 10)
        events = runtime.outbox.events(run.execution_id)
        assert events[-1].data["status"] == "cancelled"
        assert [e.data["kind"] for e in events if e.type == "node.note"] == ["paused", "resumed"]
    finally:
        controller.close()
        await runtime.stop()
