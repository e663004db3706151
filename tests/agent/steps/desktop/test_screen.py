"""Finding things on a real screen (images, windows), screenshots, and the errors around them."""

from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path

import pytest
from PIL import Image

from agent.steps.desktop._find_steps import locate, wait
from agent.steps.desktop._mouse import click
from agent.steps.desktop._system import open_app, screenshot
from agent.steps.desktop._window_steps import window_activate, window_close, window_move, windows
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.desktop.conftest import Display, FormApp

pytestmark = pytest.mark.desktop

WINDOW = "RPA Test*"


async def test_a_click_on_an_image_target_presses_its_button(form_app: FormApp) -> None:
    out = await StepEnvironment().run(click, {"target": f"image:{form_app.button_png}"})

    # The picture sits at (400, 20) in the window at (100, 80), inside a 2-pixel border.
    assert (out["target"]["left"], out["target"]["top"]) == (502, 102)
    assert out["target"]["confidence"] > 0.99
    form_app.wait_for(lambda s: s["image_clicks"] == 1 and s["status"] == "image pressed")


async def test_an_image_travels_inside_the_flow_as_a_data_uri(form_app: FormApp) -> None:
    uri = "data:image/png;base64," + base64.b64encode(form_app.button_png.read_bytes()).decode()
    found = await StepEnvironment().run(locate, {"target": f"image:{uri}", "window": WINDOW})
    assert (found["x"], found["y"]) == (532, 117)


async def test_a_relative_image_name_is_looked_for_in_the_flow_folder(
    form_app: FormApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "flow"
    folder.mkdir()
    (folder / "ok.png").write_bytes(form_app.button_png.read_bytes())
    monkeypatch.setenv("RPA_FLOW_DIR", str(folder))
    assert (await StepEnvironment().run(locate, {"target": "image:ok.png"}))["left"] == 502

    monkeypatch.delenv("RPA_FLOW_DIR")
    with pytest.raises(StepError, match=r"image: no file 'ok.png' \(looked in ") as caught:
        await StepEnvironment().run(locate, {"target": "image:ok.png"})
    assert caught.value.retryable is False


async def test_every_match_and_a_region_narrow_or_widen_what_is_found(form_app: FormApp, tmp_path: Path) -> None:
    env = StepEnvironment()
    every = await env.run(locate, {"target": f"image:{form_app.button_png}", "every": True})
    assert [(m["left"], m["top"]) for m in every] == [(502, 102)]
    # The window's left half holds no button: the region is relative to the window.
    with pytest.raises(StepError) as caught:
        await env.run(
            locate, {"target": f"region:0,0,300,400 >> image:{form_app.button_png}", "window": WINDOW, "timeout_s": 0}
        )
    assert caught.value.kind == "element_not_found"
    assert caught.value.retryable is True
    # The area searched is kept as evidence: the window's left part, 300x400.
    evidence = env.artifacts_dir / env.execution_id / caught.value.details["screenshot"]
    with Image.open(evidence) as image:
        assert image.size == (300, 400)
    moved = await env.run(
        locate, {"target": f"image:{form_app.button_png} >> below:10", "window": WINDOW, "timeout_s": 0}
    )
    assert (moved["x"], moved["y"]) == (532, 142)


async def test_wait_sees_an_image_vanish_when_its_window_closes(form_app: FormApp) -> None:
    target = {"target": f"image:{form_app.button_png}", "timeout_s": 10}
    env = StepEnvironment()
    assert (await env.run(wait, target))["left"] == 502
    threading.Timer(0.4, form_app.stop).start()
    assert await env.run(wait, target | {"state": "vanish"}) is None
    with pytest.raises(StepError, match=r"not found after 0\.3 s") as caught:
        await env.run(wait, target | {"timeout_s": 0.3})
    assert caught.value.kind == "element_not_found"


async def test_screenshots_of_the_screen_a_region_and_a_window_are_real_pngs(
    form_app: FormApp, xvfb: Display, tmp_path: Path
) -> None:
    env = StepEnvironment(artifacts_dir=tmp_path)
    full = await env.run(screenshot, {})
    region = await env.run(screenshot, {"target": "region:100,80,740,500", "name": "region.png"})
    window = await env.run(screenshot, {"window": WINDOW, "name": "window.png"})

    for shot, size in ((full, (xvfb.width, xvfb.height)), (region, (640, 420)), (window, (640, 420))):
        path = env.artifacts_dir / env.execution_id / "step" / shot["name"]
        assert shot["content_type"] == "image/png"
        with Image.open(path) as image:
            assert image.size == size
            colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 5, "a blank screenshot"
    with Image.open(env.artifacts_dir / env.execution_id / "step" / "window.png") as image:
        picture = image.convert("RGB").crop((402, 22, 462, 52))
    with Image.open(form_app.button_png) as button:
        assert picture.tobytes() == button.convert("RGB").tobytes()


async def test_windows_are_listed_moved_resized_activated_and_closed_by_title(form_app: FormApp) -> None:
    env = StepEnvironment()
    (listed,) = await env.run(windows, {"title": WINDOW})
    assert listed["title"] == "RPA Test Form"
    assert (listed["left"], listed["top"], listed["width"], listed["height"]) == (100, 80, 640, 420)

    after = await env.run(window_move, {"title": WINDOW, "left": 300, "top": 200, "width": 700})
    assert (after["left"], after["top"], after["width"], after["height"]) == (300, 200, 700, 420)
    corner = await env.run(locate, {"target": 'window:"RPA Test*" >> point:10,10'})
    assert (corner["x"], corner["y"]) == (310, 210)
    found = await env.run(locate, {"target": f"image:{form_app.button_png}"})
    assert (found["left"], found["top"]) == (702, 222)

    assert (await env.run(window_activate, {"title": WINDOW}))["id"] == listed["id"]
    assert await env.run(window_close, {"title": WINDOW}) == {"closed": ["RPA Test Form"]}
    assert await asyncio.to_thread(form_app.process.wait, 5) == 0  # Tk got WM_DELETE_WINDOW and quit
    assert await env.run(windows, {"title": WINDOW}) == []


async def test_a_missing_window_names_the_titles_on_screen(form_app: FormApp) -> None:
    with pytest.raises(
        StepError, match=r"no window title matches 'Invoice\*' \(windows on screen: \['RPA Test Form'"
    ) as caught:
        await StepEnvironment().run(window_activate, {"title": "Invoice*", "timeout_s": 0})
    assert caught.value.kind == "window_not_found"


async def test_open_starts_an_application_and_waits_for_its_window(xvfb: Display, tmp_path: Path) -> None:
    import sys

    from tests.agent.steps.desktop.conftest import HERE

    env = StepEnvironment()
    out = await env.run(
        open_app,
        {
            "application": sys.executable,
            "args": [str(HERE / "form_app.py"), str(tmp_path / "s.json"), str(tmp_path / "b.png")],
            "wait_window": "RPA Test Form",
        },
    )
    assert out["window"]["title"] == "RPA Test Form"
    await env.run(window_close, {"title": "RPA Test Form"})


async def test_without_a_display_every_step_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    for step_fn, params in ((click, {"target": "point:1,1"}), (windows, {}), (screenshot, {})):
        with pytest.raises(StepError, match=r"no display to drive: set DISPLAY .*Xvfb :99") as caught:
            await StepEnvironment().run(step_fn, params)
        assert caught.value.kind == "no_display"
        assert caught.value.retryable is False


@pytest.mark.ocr
async def test_a_click_on_an_ocr_target_presses_its_button(form_app: FormApp) -> None:
    out = await StepEnvironment().run(click, {"target": 'ocr:"Submit"', "window": WINDOW})

    assert out["target"]["text"] == "Submit"
    # The button: (400, 80) in the window at (100, 80); its text is near its middle.
    assert 505 <= out["x"] <= 630
    assert 165 <= out["y"] <= 205
    form_app.wait_for(lambda s: s["text_clicks"] == 1 and s["status"] == "text pressed")


@pytest.mark.ocr
async def test_an_anchor_from_ocr_text_points_beside_it(form_app: FormApp) -> None:
    # The status label reads "idle"; the entry is above it.
    label = await StepEnvironment().run(locate, {"target": 'ocr:"idle"', "window": WINDOW})
    above = await StepEnvironment().run(locate, {"target": 'ocr:"idle" >> above:30', "window": WINDOW})
    assert above["x"] == label["x"]
    assert above["y"] == label["top"] - 30


async def test_open_a_file_with_its_default_application(
    xvfb: Display, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from tests.agent.steps.desktop.conftest import HERE

    # A real xdg-open, with the form app made the default application for text files.
    opener = tmp_path / "opener.sh"
    opener.write_text(
        f'#!/bin/sh\necho "$1" > {tmp_path}/opened\n'
        f"exec {sys.executable} {HERE / 'form_app.py'} {tmp_path}/state.json {tmp_path}/b.png\n"
    )
    opener.chmod(0o755)
    applications = tmp_path / "data" / "applications"
    applications.mkdir(parents=True)
    (applications / "rpa-form.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Form\nExec={opener} %f\nMimeType=text/plain;\n"
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mimeapps.list").write_text("[Default Applications]\ntext/plain=rpa-form.desktop\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    note = tmp_path / "note.txt"
    note.write_text("invoice 42\n")

    env = StepEnvironment()
    out = await env.run(open_app, {"file": str(note), "wait_window": "RPA Test Form"})

    assert out["window"]["title"] == "RPA Test Form"
    assert (tmp_path / "opened").read_text().strip() == str(note)
    await env.run(window_close, {"title": "RPA Test Form"})
