"""Region capture for real under Xvfb: a screenshot of the X screen, a region dragged with QTest on
the overlay, the PNG written next to the flow, the node's target set, matches counted by OpenCV
and the word next to it read by tesseract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from studio.views.capture import Word, count_matches, nearest_anchor
from tests.xvfb import xvfb_display

pytestmark = [pytest.mark.desktop, pytest.mark.ocr]

ROOT = Path(__file__).resolve().parents[4]
SHOTS = ROOT / "build" / "screenshots"


def test_a_dragged_region_becomes_an_image_asset_with_its_matches_and_anchor(tmp_path: Path) -> None:
    with xvfb_display(800, 600) as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("scenario.py")), str(tmp_path)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["screen"] == [800, 600]  # a real grab of the X screen
    flags = report["overlay_flags"]
    assert flags & Qt.WindowType.FramelessWindowHint.value
    assert flags & Qt.WindowType.WindowStaysOnTopHint.value
    result = report["result"]
    assert result is not None, done.stderr
    assert result["target"] == "image:images/press.png"
    assert report["param"] == "image:images/press.png"
    assert result["region"] == [158, 38, 203, 83]  # the drag end pixel included
    image = QImage(str(tmp_path / "flow" / "images" / "press.png"))
    assert (image.width(), image.height()) == (45, 45)
    assert image.pixelColor(22, 22).blue() > 150  # the icon's blue, from the real screen
    assert result["matches"] == 2  # the two copies of the icon on the window
    assert report["preview"] == "2 matches"  # shown live while dragging
    assert result["anchor"] == 'ocr:"Total" >> right-of'
    assert result["notes"] == []
    saved = json.loads((tmp_path / "flow" / "clicks.json").read_text())
    assert saved["nodes"][0]["params"]["target"] == "image:images/press.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "overlay.png", SHOTS / "studio-capture.png")


def test_desktop_clicks_and_typing_become_desktop_nodes(tmp_path: Path) -> None:
    with xvfb_display(800, 600) as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("desktop_scenario.py")), str(tmp_path)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "result.json").read_text())
    steps = [(n["type"], n["params"]) for n in report["nodes"]]
    assert steps == [
        ("desktop.click", {"target": "image:images/click-1.png"}),
        ("desktop.click", {"target": "image:images/click-2.png"}),
        ("desktop.type", {"text": "Hi yo"}),  # Backspace took the last letter back
        ("desktop.press", {"keys": ["enter"]}),
        ("desktop.press", {"keys": ["tab"], "presses": 2}),
        ("desktop.hotkey", {"keys": ["ctrl", "s"]}),
    ]
    assert report["typed"] == "Hi yo"  # the field really received the keys
    icon = QImage(str(tmp_path / "flow" / "images" / "click-1.png"))
    assert (icon.width(), icon.height()) == (48, 48)
    assert icon.pixelColor(24, 24).blue() > 150  # the icon under the pointer
    saved = json.loads((tmp_path / "flow" / "desktop.json").read_text())
    assert next(e["from"] for e in saved["edges"]) == "start"
    assert [n["id"] for n in saved["nodes"]][1:] == report["ids"]


def _words(*items: tuple[str, int, int]) -> list[Word]:
    return [Word(text, x, y, 40, 12, 90.0) for text, x, y in items]


def test_the_anchor_is_the_nearest_word_left_of_or_above_the_region() -> None:
    region = (200, 100, 240, 120)
    assert nearest_anchor(_words(("Total", 100, 104), ("Far", 10, 104)), region) == ("Total", "right-of")
    assert nearest_anchor(_words(("Amount", 205, 70)), region) == ("Amount", "below")
    assert nearest_anchor(_words(("Right", 300, 104), ("--", 150, 104)), region) is None


def test_matches_are_counted_once_per_place(qapp: Any) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    screen = np.full((120, 200, 3), 255, dtype=np.uint8)
    patch = rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
    screen[10:26, 10:26] = patch
    screen[80:96, 150:166] = patch
    assert count_matches(screen, patch) == 2
    assert count_matches(screen, np.zeros((200, 300, 3), dtype=np.uint8)) == 0  # larger than the screen
