"""Record desktop clicks and typing as `desktop.*` nodes, with image targets saved next to the flow.

The X listener thread hands each press to the window's thread through a queued signal; there a
click's surroundings are grabbed from the screen (`CLICK_BOX` pixels around the pointer) and
saved as `images/click-N.png` next to the flow, and the click becomes `desktop.click` on
`image:images/click-N.png`. The grab is taken just after the press, so a control that changes
its look when pressed is captured pressed; review the images before inserting. `insert` puts the
nodes after the selected node as one undo step (`insert_chain`). X11 only for now.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication

from studio.model import FlowDocument
from studio.views.capture._desktop_nodes import DesktopActions
from studio.views.capture._xinput import XInputListener

CLICK_BOX = 48
"""The side of the square saved around a click, in screen pixels."""


class DesktopRecorder(QObject):
    """Records the designer's desktop input into `desktop.*` nodes.

    Args:
        document: the open flow (saved: click images are stored next to it).
        display: the X display to listen to (`DISPLAY` when None).
        parent: the Qt parent.
    """

    pressed = Signal(str, int, int, int, int, str, object)
    """(kind, detail, x, y, state, keysym, character) from the listener thread (queued)."""
    changed = Signal()
    """A node was added or grew."""

    def __init__(self, document: FlowDocument, display: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.display = display
        self.actions = DesktopActions()
        self.listener: XInputListener | None = None
        self._images = 0
        self.pressed.connect(self._on_press, Qt.ConnectionType.QueuedConnection)

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The nodes recorded so far."""
        return self.actions.nodes

    def start(self) -> None:
        """Start recording the whole desktop's input.

        Raises:
            ValueError: the flow is not saved yet.
            RuntimeError: no X display, no python-xlib, or no RECORD extension (the message says which).
        """
        if self.document.path is None:
            raise ValueError("save the flow first: click images are stored next to it")
        listener = XInputListener(lambda *event: self.pressed.emit(*event), self.display)
        listener.start()
        self.listener = listener

    def stop(self) -> None:
        """Stop recording (the nodes stay for `insert`)."""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    def _on_press(self, kind: str, detail: int, x: int, y: int, state: int, keysym: str, character: Any) -> None:
        if kind == "button":
            target = self._save_around(x, y)
            if target is not None and self.actions.click(detail, target) is not None:
                self.changed.emit()
        elif self.actions.key(keysym, character, state) is not None:
            self.changed.emit()

    def _save_around(self, x: int, y: int) -> str | None:
        screen = QGuiApplication.primaryScreen()
        if screen is None or self.document.path is None:
            return None
        half = CLICK_BOX // 2
        size = screen.geometry()
        left = max(0, min(x - half, size.width() - CLICK_BOX))
        top = max(0, min(y - half, size.height() - CLICK_BOX))
        image = screen.grabWindow(0, left, top, CLICK_BOX, CLICK_BOX)
        folder = self.document.path.resolve().parent
        while True:
            self._images += 1
            name = f"images/click-{self._images}.png"
            if not (folder / name).exists():
                break
        (folder / "images").mkdir(parents=True, exist_ok=True)
        image.save(str(folder / name), "PNG")
        return f"image:{name}"

    def insert(self) -> list[str]:
        """Insert the recorded nodes after the selected node (or at the end), as one undo step."""
        if not self.nodes:
            return []
        selected = sorted(self.document.selection.ids)
        after = selected[0] if len(selected) == 1 else None
        ids: list[str] = self.document.execute("insert_chain", nodes=self.nodes, after=after)
        return ids
