"""What joins the docks to each other and to the window: the debugger's actions in the Debug
menu, "Pick element" on a selector field to the recorder's picker, "Capture region" on an
image-target field to the region capture, and their clean-up when the window closes.

The docks are built again for each document the window opens; `ToolWiring.wire` is called after
every build and finds the new widgets by type.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMainWindow, QMenu

from studio.views.capture import RegionCapture
from studio.views.debugger import DebuggerDock
from studio.views.properties import PropertiesPanel
from studio.views.recorder import PickController, RecorderView


def _param(json_path: str) -> str:
    """`$.params.target` -> `target` (the capture stores the image target in that param)."""
    return json_path.removeprefix("$.").removeprefix("params.").split(".", 1)[0]


class ToolWiring:
    """The connections between the current document's docks (see the module docstring)."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.debug_menu: QMenu = window.menuBar().addMenu("&Debug")
        self.debugger: DebuggerDock | None = None
        self.recorder: RecorderView | None = None
        self.picker: PickController | None = None
        self.capture: RegionCapture | None = None

    def _widget(self, kind: type[Any]) -> Any:
        for dock in getattr(self.window, "dock_widgets", {}).values():
            widget = dock.widget()
            if isinstance(widget, kind):
                return widget
        return None

    def wire(self) -> None:
        """Connect the docks of the document just opened."""
        self.close()
        document = self.window.document  # type: ignore[attr-defined]
        status = self.window.statusBar()
        self.debug_menu.clear()
        self.debugger = self._widget(DebuggerDock)
        if self.debugger is not None:
            self.debug_menu.addActions(self.debugger.debug_actions.all())
        self.recorder = self._widget(RecorderView)
        properties: PropertiesPanel | None = self._widget(PropertiesPanel)
        if properties is None:
            return
        if self.recorder is not None:
            picker = self.picker = PickController(document, self.recorder)
            picker.failed.connect(lambda reason: status.showMessage(f"Pick element: {reason}", 10_000))
            properties.pick_requested.connect(lambda node, path: picker.pick(node, path))
        capture = self.capture = RegionCapture(document, self.window)
        capture.finished.connect(lambda result: status.showMessage(result.summary(), 10_000))
        capture.failed.connect(lambda reason: status.showMessage(f"Capture region: {reason}", 10_000))
        properties.capture_requested.connect(lambda node, path: self._capture(node, path))

    def _capture(self, node_id: str, json_path: str) -> None:
        if self.capture is None:
            return
        try:
            self.capture.start(node_id, _param(json_path))
        except (ValueError, KeyError) as error:
            self.window.statusBar().showMessage(f"Capture region: {error}", 10_000)

    def close(self) -> None:
        """Stop what the current docks started (the recorder's browser, a debug run)."""
        if self.recorder is not None:
            self.recorder.close_process()
        if self.debugger is not None:
            self.debugger.controller.close()
