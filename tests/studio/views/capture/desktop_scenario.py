"""Run under a real X display (Xvfb, Qt's xcb platform): record desktop input that xdotool
sends as a person's mouse and keyboard would, and insert the nodes into a saved flow.

`python desktop_scenario.py OUT_DIR` writes OUT_DIR/result.json; the flow and the click
images go to OUT_DIR/flow/. Used by test_capture.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLineEdit

from studio.model import FlowDocument
from studio.views.capture import DesktopRecorder
from tests.studio.views.capture.scenario import ICON_AT, _settle, _window

XDOTOOL = [
    ["mousemove", "180", "60", "click", "1"],
    ["mousemove", "320", "150", "click", "1"],
    ["type", "--delay", "30", "Hi you"],
    ["key", "BackSpace"],
    ["key", "Return"],
    ["key", "Tab", "Tab"],
    ["key", "ctrl+s"],
]


def main(out: Path) -> None:
    app = QApplication(sys.argv)
    window = _window()
    field = QLineEdit(window)
    field.setGeometry(280, 140, 120, 24)
    field.show()
    _settle(app, 1.0)
    document = FlowDocument(
        {
            "schema": "rpa.flow/1",
            "name": "Desktop",
            "nodes": [{"id": "start", "type": "core.noop", "params": {}}],
            "edges": [],
        }
    )
    document.save(out / "flow" / "desktop.json")
    recorder = DesktopRecorder(document)
    recorder.start()
    for command in XDOTOOL:
        subprocess.run(["xdotool", *command], check=True, timeout=20)
        _settle(app, 0.3)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(n["type"] == "desktop.hotkey" for n in recorder.nodes):
        _settle(app, 0.1)
    recorder.stop()
    document.selection.select(["start"])
    ids = recorder.insert()
    document.to_flow()  # the inserted nodes pass the steps' own params validation
    document.save()
    (out / "result.json").write_text(
        json.dumps({"nodes": recorder.nodes, "ids": ids, "typed": field.text(), "icon": list(ICON_AT[0])})
    )
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
