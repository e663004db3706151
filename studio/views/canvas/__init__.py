"""The flow canvas: a plain `QGraphicsScene` drawn from a `FlowDocument` and following its events.

`FlowView` is the canvas (zoom, pan, rubber band, wiring, drop from the palette, the edit
actions), `FlowScene` its items, `Minimap` an overview sharing the scene.
"""

from __future__ import annotations

from studio.views.canvas._items import BodyItem, ContainerItem, EdgeItem, NodeItem, NoteItem, PortItem
from studio.views.canvas._minimap import Minimap
from studio.views.canvas._scene import FlowScene
from studio.views.canvas._view import STEP_MIME, FlowView

__all__ = [
    "STEP_MIME",
    "BodyItem",
    "ContainerItem",
    "EdgeItem",
    "FlowScene",
    "FlowView",
    "Minimap",
    "NodeItem",
    "NoteItem",
    "PortItem",
    "minimap_dock",
]


def minimap_dock(document: object, window: object) -> Minimap:
    """Dock factory (`studio/app/_docks.py`): the minimap of the window's canvas."""
    canvas = getattr(window, "canvas", None)
    if not isinstance(canvas, FlowView):
        raise TypeError("the minimap needs a window with a canvas")
    return Minimap(canvas)
