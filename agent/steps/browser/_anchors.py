"""Picking the element placed right of / left of / above / below / near an anchor (pure geometry).

Playwright's layout pseudo-classes (`:right-of()`...) are deprecated, so the choice is made here
from bounding boxes: among the target selector's matches, keep those on the anchor's side whose
box overlaps the anchor's band (its rows for left/right, its columns for above/below), within
`max_distance_px`, and take the nearest. Two candidates at the same distance are ambiguous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Relation = Literal["right_of", "left_of", "above", "below", "near"]

NEAR_DEFAULT_PX = 50.0
"""`near` without a distance means within 50 px, as Playwright's `:near()` did."""
EDGE_TOLERANCE_PX = 2.0
"""Boxes that touch or overlap by a border still count as being on that side."""
TIE_PX = 1.0
"""Two candidates whose distances differ by less than this are equally near: ambiguous."""


@dataclass(frozen=True, slots=True)
class Box:
    """A bounding box in CSS pixels (page viewport coordinates)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


def _overlap(a0: float, a1: float, b0: float, b1: float) -> bool:
    return min(a1, b1) - max(a0, b0) > 0


def _gap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, max(a0, b0) - min(a1, b1))


def distance(anchor: Box, box: Box, relation: Relation) -> float | None:
    """How far `box` lies from `anchor` in the direction `relation`; None when it is not there."""
    t = EDGE_TOLERANCE_PX
    if relation == "right_of":
        if box.x < anchor.right - t or not _overlap(anchor.y, anchor.bottom, box.y, box.bottom):
            return None
        return max(0.0, box.x - anchor.right)
    if relation == "left_of":
        if box.right > anchor.x + t or not _overlap(anchor.y, anchor.bottom, box.y, box.bottom):
            return None
        return max(0.0, anchor.x - box.right)
    if relation == "below":
        if box.y < anchor.bottom - t or not _overlap(anchor.x, anchor.right, box.x, box.right):
            return None
        return max(0.0, box.y - anchor.bottom)
    if relation == "above":
        if box.bottom > anchor.y + t or not _overlap(anchor.x, anchor.right, box.x, box.right):
            return None
        return max(0.0, anchor.y - box.bottom)
    dx = _gap(anchor.x, anchor.right, box.x, box.right)
    dy = _gap(anchor.y, anchor.bottom, box.y, box.bottom)
    return math.hypot(dx, dy)


@dataclass(frozen=True, slots=True)
class AnchorChoice:
    """The outcome of `choose`: the index picked, or why none could be."""

    index: int | None
    distance: float | None = None
    tied: tuple[int, ...] = ()


def rank(
    anchors: list[Box], candidates: list[Box | None], relation: Relation, max_distance_px: float | None
) -> list[tuple[float, int]]:
    """(distance, index) of every candidate on the anchor's side, nearest first.

    Args:
        anchors: the boxes of the visible elements holding the anchor text.
        candidates: the boxes of the target's matches (None for an invisible one), in DOM order.
        relation: the side of the anchor the target is on.
        max_distance_px: the farthest a target may be; `near` defaults to `NEAR_DEFAULT_PX`.

    An element that is itself an anchor is never a candidate (the label is not the input beside it).
    """
    limit = max_distance_px if max_distance_px is not None else (NEAR_DEFAULT_PX if relation == "near" else None)
    ranked: list[tuple[float, int]] = []
    for index, box in enumerate(candidates):
        if box is None or box in anchors:
            continue
        found = [d for anchor in anchors if (d := distance(anchor, box, relation)) is not None]
        if found and (limit is None or min(found) <= limit):
            ranked.append((min(found), index))
    ranked.sort()
    return ranked


def choose(
    anchors: list[Box], candidates: list[Box | None], relation: Relation, max_distance_px: float | None
) -> AnchorChoice:
    """The candidate nearest to any anchor box in the given direction (arguments as for `rank`).

    Returns:
        An `AnchorChoice` whose `index` is None when nothing qualifies, or when `tied` lists
        several equally near candidates.
    """
    ranked = rank(anchors, candidates, relation, max_distance_px)
    if not ranked:
        return AnchorChoice(None)
    nearest, index = ranked[0]
    tied = tuple(i for d, i in ranked if d - nearest < TIE_PX)
    if len(tied) > 1:
        return AnchorChoice(None, nearest, tied)
    return AnchorChoice(index, nearest)
