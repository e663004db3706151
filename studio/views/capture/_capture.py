"""Desktop region capture: drag a region on the screen, get an image target with its assets.

`RegionCapture.start(node_id)` takes a screenshot, shows the overlay over it, and once a region
is dragged: the region is saved as a PNG flow asset next to the flow (`images/<node>.png`, so it
travels with the flow like any `x-rpa-asset`), the node's target becomes `image:images/<node>.png`,
and the result says how many places on the screen match it (OpenCV template matching, the
desktop steps' 0.9 confidence) and which text next to it could anchor it instead
(`ocr:"Total" >> right-of`, read by tesseract). Without OpenCV or tesseract the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap

from studio.model import FlowDocument
from studio.views.capture._analysis import ANCHOR_REACH, Word, count_matches, nearest_anchor, read_words
from studio.views.capture._overlay import CaptureOverlay

OCR_SCALE = 2
"""Screen text is small: tesseract reads it better enlarged 2x."""


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """What one capture produced."""

    node: str
    path: Path
    """The PNG written next to the flow."""
    target: str
    """The node's new target (`image:images/<node>.png`)."""
    region: tuple[int, int, int, int]
    """(left, top, right, bottom) in screen pixels."""
    matches: int | None
    """How many places on the screen match the image (None: could not be counted, see `notes`)."""
    anchor: str | None
    """A text target that finds the region from the word next to it, when one was read."""
    notes: tuple[str, ...]
    """What could not be done (no OpenCV, no tesseract)."""

    def summary(self) -> str:
        """One line for the status bar."""
        parts = [f"Saved {self.path.name}"]
        if self.matches is not None:
            parts.append(f"{self.matches} match{'es' if self.matches != 1 else ''} on screen")
        if self.anchor:
            parts.append(f"anchor {self.anchor}")
        return "; ".join([*parts, *self.notes])


def to_array(image: QImage) -> Any:
    """An RGB numpy array (height, width, 3) of a `QImage`."""
    import numpy as np

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    buffer = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    return buffer[:, : width * 3].reshape(height, width, 3).copy()


def grab_screen() -> QPixmap:
    """A screenshot of the primary screen."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        raise RuntimeError("no screen to capture")
    return screen.grabWindow(0)


class RegionCapture(QObject):
    """Captures image targets for the desktop steps' nodes.

    Args:
        document: the open flow (saved: images are stored next to it).
        parent: the Qt parent.
    """

    finished = Signal(object)
    """The `CaptureResult`."""
    failed = Signal(str)
    """Why a capture could not be used."""

    def __init__(self, document: FlowDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.overlay: CaptureOverlay | None = None
        self.result: CaptureResult | None = None

    def start(self, node_id: str, param: str = "target", screenshot: QPixmap | None = None) -> CaptureOverlay:
        """Show the overlay over `screenshot` (the screen now when None) for node `node_id`'s `param`.

        Raises:
            ValueError: the flow is not saved yet (its images are stored next to it).
            KeyError: no such node.
        """
        self.document.node(node_id)
        if self.document.path is None:
            raise ValueError("save the flow first: captured images are stored next to it")
        shot = screenshot if screenshot is not None else grab_screen()
        overlay = CaptureOverlay(shot, preview=self._previewer(shot))
        overlay.captured.connect(lambda region: self._captured(node_id, param, shot, region))
        overlay.cancelled.connect(lambda: self.failed.emit("capture cancelled"))
        self.overlay = overlay
        overlay.show()
        overlay.raise_()
        overlay.activateWindow()
        return overlay

    def _previewer(self, shot: QPixmap) -> Callable[[QRect], str]:
        image = shot.toImage()
        screen: list[Any] = []  # converted once, on the first preview

        def preview(region: QRect) -> str:
            try:
                if not screen:
                    screen.append(to_array(image))
                counted = count_matches(screen[0], to_array(image.copy(region)))
            except ImportError:
                return "(numpy is not installed: no preview)"
            if isinstance(counted, str):
                return f"(no preview: {counted})"
            return f"{counted} match{'es' if counted != 1 else ''}"

        return preview

    def _asset_path(self, node_id: str) -> tuple[Path, str]:
        assert self.document.path is not None
        folder = self.document.path.resolve().parent
        name = f"images/{node_id}.png"
        number = 1
        while (folder / name).exists():
            number += 1
            name = f"images/{node_id}-{number}.png"
        return folder / name, name

    def _captured(self, node_id: str, param: str, shot: QPixmap, region: QRect) -> None:
        crop = shot.copy(region)
        path, name = self._asset_path(node_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not crop.save(str(path), "PNG"):
            self.failed.emit(f"could not write {path}")
            return
        target = f"image:{name}"
        self.document.execute("set_param", node=node_id, name=param, value=target)
        self.document.seal()
        box = (region.left(), region.top(), region.right() + 1, region.bottom() + 1)
        matches, anchor, notes = self._analyse(shot.toImage(), crop.toImage(), box)
        self.result = CaptureResult(node_id, path, target, box, matches, anchor, tuple(notes))
        self.finished.emit(self.result)

    def _analyse(
        self, screen: QImage, crop: QImage, box: tuple[int, int, int, int]
    ) -> tuple[int | None, str | None, list[str]]:
        notes: list[str] = []
        try:
            screen_array, crop_array = to_array(screen), to_array(crop)
        except ImportError:
            return None, None, ["numpy is not installed (install the desktop extra)"]
        counted = count_matches(screen_array, crop_array)
        matches = counted if isinstance(counted, int) else None
        if isinstance(counted, str):
            notes.append(counted)
        left, top, right, bottom = box
        near = QRect(max(0, left - ANCHOR_REACH), max(0, top - ANCHOR_REACH), 0, 0)
        near.setRight(min(screen.width() - 1, right + 20))
        near.setBottom(min(screen.height() - 1, bottom + 10))
        around = screen.copy(near).scaled(near.width() * OCR_SCALE, near.height() * OCR_SCALE)
        words = read_words(to_array(around))
        if isinstance(words, str):
            notes.append(words)
            return matches, None, notes
        placed = [
            Word(
                w.text,
                near.left() + w.left // OCR_SCALE,
                near.top() + w.top // OCR_SCALE,
                w.width // OCR_SCALE,
                w.height // OCR_SCALE,
                w.confidence,
            )
            for w in words
        ]
        found = nearest_anchor(placed, box)
        anchor = None if found is None else f'ocr:"{found[0]}" >> {found[1]}'
        return matches, anchor, notes
