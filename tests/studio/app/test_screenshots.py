"""Screenshots of the studio written by the suite (light and dark, a 30-node flow with
containers), checked to be the theme they claim. `python docs/images/refresh_studio.py` writes
them into `docs/images/` instead of `tests/studio/screenshots/`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.app import StudioWindow, apply_theme, load_templates
from tests.studio.flows import sample_document

pytestmark = pytest.mark.gui
OUT = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).parents[1] / "screenshots"))


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    palette, style = qapp.palette(), qapp.style().name()
    yield qapp
    qapp.setStyle(style)
    qapp.setPalette(palette)


def _lightness(image: QImage) -> float:
    points = [(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 37)]
    samples = [image.pixelColor(x, y).lightness() for x, y in points]
    return sum(samples) / len(samples)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_main_window_with_a_thirty_node_flow(app: QApplication, qtbot: QtBot, tmp_path: Path, theme: str) -> None:
    apply_theme(app, theme)
    window = StudioWindow(config=tmp_path, templates=[])
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    document = sample_document(30)
    window.open_document(document)
    document.selection.select(["check"])
    assert window.canvas is not None
    app.processEvents()
    window.canvas.fit()
    app.processEvents()
    OUT.mkdir(parents=True, exist_ok=True)
    image = window.grab().toImage()
    assert image.save(str(OUT / f"studio-main-{theme}.png"))
    assert len(window.canvas.flow_scene.nodes) == 30
    lightness = _lightness(image)
    assert lightness > 170 if theme == "light" else lightness < 90
    document.undo_stack.mark_clean()


def test_the_start_page(app: QApplication, qtbot: QtBot, tmp_path: Path) -> None:
    apply_theme(app, "light")
    window = StudioWindow(config=tmp_path, templates=load_templates())
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.start_page.template_list.setCurrentRow(2)
    app.processEvents()
    OUT.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(OUT / "studio-start.png"))
    assert window.start_page.preview_view is not None


def test_the_canvas_close_up(app: QApplication, qtbot: QtBot, tmp_path: Path) -> None:
    apply_theme(app, "light")
    window = StudioWindow(config=tmp_path, templates=[])
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    document = sample_document(30)
    window.open_document(document)
    assert window.canvas is not None
    window.canvas.reset_zoom()
    window.canvas.centerOn(window.canvas.flow_scene.nodes["check"])
    document.selection.select(["big", "small"])
    app.processEvents()
    OUT.mkdir(parents=True, exist_ok=True)
    assert window.canvas.grab().save(str(OUT / "studio-canvas.png"))
    document.undo_stack.mark_clean()
