"""The desktop family as the catalogue sees it: registered, described, locked, and light to import."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from agent.steps.desktop import DESKTOP_STEPS
from agent.steps.desktop._find_steps import wait
from shared.errors import StepError
from shared.steps import StepEnvironment, StepRegistry, definition_of

# Steps that only look (or list): no lock, so they may run beside a step that drives the mouse.
LOOKING = {"desktop.locate", "desktop.wait", "desktop.windows", "desktop.screenshot"}


def test_every_step_is_registered_through_the_entry_point_and_described() -> None:
    registry = StepRegistry.default()
    for fn in DESKTOP_STEPS:
        definition = definition_of(fn)
        assert registry.get(definition.name) is definition, definition.name
        assert definition.capability == "desktop"
        assert "Example node" in definition.docs, definition.name
        assert definition.params.model_config.get("extra") == "forbid", definition.name
        for name, field in definition.params.model_fields.items():
            assert field.description, f"{definition.name}.{name} has no description"


def test_every_step_that_drives_the_desktop_holds_the_lock() -> None:
    for fn in DESKTOP_STEPS:
        definition = definition_of(fn)
        expected = None if definition.name in LOOKING else "desktop"
        assert definition.lock == expected, definition.name


def test_importing_the_family_needs_no_display_and_loads_no_heavy_library() -> None:
    code = (
        "import sys, agent.steps.desktop as d; "
        "print(len(d.DESKTOP_STEPS), sorted({'pyautogui', 'cv2', 'Xlib', 'PIL.ImageGrab'} & set(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert done.stdout.split() == ["19", "[]"]


@pytest.mark.desktop
async def test_cancelling_the_execution_stops_a_wait_in_progress(form_app: object, tmp_path: Path) -> None:
    absent = tmp_path / "absent.png"
    Image.effect_noise((60, 30), 80).save(absent)  # nowhere on screen
    env = StepEnvironment()
    threading.Timer(0.5, env.cancel).start()
    with pytest.raises(StepError) as caught:
        await env.run(wait, {"target": f"image:{absent}", "timeout_s": 90})
    assert caught.value.kind == "cancelled"
