"""The view half of `bench/studio.py`: the canvas and its NodeGraphQt peer, each size in a fresh
process (so the resident memory is that flow's), Qt offscreen.

    python bench/_studio_canvas.py canvas 1000      # prints one JSON row
    python bench/_studio_canvas.py nodegraphqt 1000 # needs NodeGraphQt on PYTHONPATH (see below)

NodeGraphQt is not a dependency of the suite: `bench/studio.py` installs it (MIT, with its Qt.py
shim, MIT) into `.peers/nodegraphqt` with `pip install --target` and runs it on the suite's
own PySide6 (`QT_PREFERRED_BINDING=PySide6`), never a Qt of its own.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FRAMES = 30
EDITS = 15


def rss_mib() -> float:
    """Resident memory of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def frames(view: Any, step: Callable[[int], None]) -> float:
    """Median time of one synchronous repaint of the viewport after `step(k)`."""
    times = []
    for k in range(FRAMES):
        step(k)
        start = time.perf_counter()
        view.viewport().grab()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def view_frames(view: Any, fit: Callable[[], None]) -> dict[str, float]:
    """Pan at 100 %, zoom steps at 100 %, and the whole flow fitted (overview)."""
    from PySide6.QtGui import QTransform

    view.setTransform(QTransform())
    getattr(view, "_zoomed", lambda: None)()  # the canvas shows its ports again at 100 %
    bar = view.verticalScrollBar()
    bar.setValue(bar.minimum())
    pan = frames(view, lambda k: bar.setValue(bar.value() + 40))
    zoom = frames(view, lambda k: view.scale(1.1, 1.1) if k % 2 else view.scale(1 / 1.1, 1 / 1.1))
    fit()
    overview = frames(view, lambda k: view.scale(1.01, 1.01) if k % 2 else view.scale(1 / 1.01, 1 / 1.01))
    return {"pan_frame_ms": pan, "zoom_frame_ms": zoom, "overview_frame_ms": overview}


def canvas(size: int) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from bench.studio import make_flow
    from shared.steps import StepRegistry
    from studio.model import FlowDocument
    from studio.views.canvas import FlowView

    app = QApplication([])
    registry = StepRegistry.default()
    text = json.dumps(make_flow(size), indent=2)
    FlowView(FlowDocument.new(registry=registry)).grab()  # fonts and paint engine warmed
    gc.collect()
    before = rss_mib()
    start = time.perf_counter()
    document = FlowDocument.from_text(text, registry=registry)
    view = FlowView(document)
    view.resize(1280, 800)
    view.show()
    view.grab()
    open_paint = time.perf_counter() - start
    memory = rss_mib() - before
    middle = f"n{len(document.raw['nodes']) // 2}"
    counter = iter(range(10**9))

    def move() -> None:
        document.execute("move_nodes", positions={middle: [next(counter), 0]})
        document.undo()

    def add() -> None:
        document.execute("add_node", type="core.noop", x=1, y=2)
        document.undo()

    def remove() -> None:
        document.execute("remove_nodes", ids=[middle])
        document.undo()

    row = {
        "nodes": len(document.index),
        "items": len(view.flow_scene.items()),
        "open_paint_s": round(open_paint, 3),
        "rss_mib": round(memory, 1),
        "move_undo_ms": median_ms(move, EDITS),
        "add_undo_ms": median_ms(add, EDITS),
        "remove_undo_ms": median_ms(remove, EDITS),
        **view_frames(view, view.fit),
    }
    assert not document.dirty
    app.processEvents()
    return row


def nodegraphqt(size: int) -> dict[str, Any]:
    os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")
    from NodeGraphQt import BaseNode, NodeGraph
    from Qt import QtWidgets, __binding__  # the shim NodeGraphQt imports Qt through

    from bench.studio import make_flow

    if __binding__ != "PySide6":
        raise SystemExit(f"NodeGraphQt bound {__binding__}, not the suite's PySide6")

    class Step(BaseNode):  # type: ignore[misc]
        __identifier__ = "bench"
        NODE_NAME = "step"

        def __init__(self) -> None:
            super().__init__()
            self.add_input("in")
            self.add_output("out")

    app = QtWidgets.QApplication([])
    flow = make_flow(size)
    # NodeGraphQt has no nested graphs: every node of the flow (bodies included) is one node
    # of a chain, at the flow's positions.
    placed: list[tuple[int, int]] = []
    for number, node in enumerate(flow["nodes"]):
        placed.append((0, number * 80))
        for inner in range(len(node.get("body", {}).get("nodes", []))):
            placed.append((240 * (inner + 1), number * 80))
    warm = NodeGraph()
    warm.register_node(Step)
    warm.widget.grab()
    gc.collect()
    before = rss_mib()
    start = time.perf_counter()
    graph = NodeGraph()
    graph.register_node(Step)
    previous = None
    nodes = []
    for number, (x, y) in enumerate(placed):
        node = graph.create_node("bench.Step", name=f"n{number}", pos=[x, y], push_undo=False)
        if previous is not None:
            previous.output(0).connect_to(node.input(0), push_undo=False)
        previous = node
        nodes.append(node)
    widget = graph.widget
    widget.resize(1280, 800)
    widget.show()
    widget.grab()
    open_paint = time.perf_counter() - start
    memory = rss_mib() - before
    middle = nodes[len(nodes) // 2]
    counter = iter(range(10**9))
    stack = graph.undo_stack()

    def move() -> None:
        middle.set_pos(next(counter), 0)
        stack.undo()

    def add() -> None:
        graph.create_node("bench.Step", pos=[1, 2], push_undo=True)
        stack.undo()

    def remove() -> None:
        graph.delete_node(middle, push_undo=True)
        stack.undo()

    viewer = graph.viewer()
    row = {
        "nodes": len(nodes),
        "items": len(viewer.scene().items()),
        "open_paint_s": round(open_paint, 3),
        "rss_mib": round(memory, 1),
        "move_undo_ms": median_ms(move, EDITS),
        "add_undo_ms": median_ms(add, EDITS),
        "remove_undo_ms": median_ms(remove, EDITS),
        **view_frames(viewer, lambda: graph.fit_to_selection()),
    }
    app.processEvents()
    return row


if __name__ == "__main__":
    kind, size = sys.argv[1], int(sys.argv[2])
    result = canvas(size) if kind == "canvas" else nodegraphqt(size)
    print(json.dumps(result))
