"""Turning a parsed target into screen boxes: windows, regions, images, OCR text, moves.

Each segment is resolved inside the box the previous one produced. `image:` values are files
(absolute, or relative to the flow's folder — `context().flow_dir`: where `rpa run` found the flow,
or where the agent laid out the assets published with the version; else `RPA_FLOW_DIR` — then the
working directory) or `data:image/png;base64,...` URIs, which travel inside the flow document.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.steps.desktop._locators import Segment, parse_target, shorten
from agent.steps.desktop._match import match_template
from agent.steps.desktop._params import FindParams
from agent.steps.desktop._screen import Box, grab, screen_box
from agent.steps.desktop._windows import the_window
from shared.errors import MissingDependency, StepError
from shared.steps import context

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Found", "NotFound", "find", "load_image", "locate", "wait_until_gone"]

POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class Found:
    """A box on screen, with how it was found."""

    left: int
    top: int
    width: int
    height: int
    confidence: float | None = None
    text: str | None = None

    @property
    def center(self) -> tuple[int, int]:
        return (self.left + self.width // 2, self.top + self.height // 2)

    @property
    def box(self) -> Box:
        return (self.left, self.top, self.width, self.height)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"left": self.left, "top": self.top, "width": self.width, "height": self.height}
        data["x"], data["y"] = self.center
        if self.confidence is not None:
            data["confidence"] = round(self.confidence, 4)
        if self.text is not None:
            data["text"] = self.text
        return data


class NotFound(Exception):
    """A segment found nothing (yet): the caller may look again until its timeout."""

    def __init__(self, segment: Segment, detail: str, scope: Box) -> None:
        super().__init__(f"{segment}: {detail}")
        self.segment = segment
        self.scope = scope
        """Where it was looked for: the failure's screenshot shows this area."""


def _image_folders() -> list[Path]:
    # The context's folder first: one agent process runs several jobs, each with its own assets,
    # so a process-wide variable cannot say where this execution's files are.
    try:
        flow_dir = context().flow_dir
    except RuntimeError:  # called outside a step (a tool, a test)
        flow_dir = None
    if flow_dir is not None:
        return [flow_dir]
    folders = [Path(os.environ["RPA_FLOW_DIR"])] if os.environ.get("RPA_FLOW_DIR") else []
    return [*folders, Path.cwd()]


def load_image(value: str) -> Image.Image:
    """The image an `image:` segment names (a path or a base64 `data:` URI).

    Raises:
        StepError: kind `validation` when it cannot be found or read.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MissingDependency("Pillow", extra="desktop") from None
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        if ";base64" not in header:
            raise StepError("image: a data: URI must be base64 (data:image/png;base64,...)", kind="validation")
        try:
            return Image.open(io.BytesIO(base64.b64decode(payload, validate=True))).convert("RGB")
        except (binascii.Error, UnidentifiedImageError, OSError) as exc:
            raise StepError(f"image: the data: URI is not a readable image ({exc})", kind="validation") from None
    path = Path(value).expanduser()
    candidates = [path] if path.is_absolute() else [folder / path for folder in _image_folders()]
    for candidate in candidates:
        if candidate.is_file():
            try:
                with Image.open(candidate) as image:
                    return image.convert("RGB")
            except (UnidentifiedImageError, OSError) as exc:
                raise StepError(f"image: {candidate} is not a readable image ({exc})", kind="validation") from None
    searched = ", ".join(str(c.parent) for c in candidates)
    raise StepError(f"image: no file '{value}' (looked in {searched})", kind="validation", retryable=False)


def _ocr_find(image: Image.Image, text: str, params: FindParams) -> list[Any]:
    try:
        ocr = importlib.import_module("agent.steps.ocr")
    except ImportError:
        raise MissingDependency("the OCR steps (agent.steps.ocr)", extra="ocr") from None
    return list(ocr.find_text(image, text, lang=params.ocr_lang, exact=params.ocr_exact))


def _search(segment: Segment, scope: Box, params: FindParams, last: bool, every: bool) -> list[Found]:
    area = grab(scope)
    origin = (scope[0], scope[1])
    if segment.kind == "image":
        matches = match_template(
            area,
            load_image(segment.value),
            confidence=params.confidence,
            grayscale=params.grayscale,
            scales=tuple(params.scales),
            every=(every and last) or params.index > 0,
            origin=origin,
        )
        found = [Found(m.left, m.top, m.width, m.height, m.confidence) for m in matches]
    else:
        hits = _ocr_find(area, segment.value, params)
        found = [
            Found(origin[0] + h.left, origin[1] + h.top, h.width, h.height, float(h.confidence) / 100, h.text)
            for h in hits
        ]
    if not found:
        raise NotFound(segment, "not on screen", scope)
    if last and every:
        return found
    if params.index >= len(found):
        raise NotFound(segment, f"only {len(found)} matches, index {params.index} asked", scope)
    return [found[params.index]]


def _move(segment: Segment, previous: Found) -> Found:
    if segment.kind == "offset":
        x, y = previous.center
        return Found(x + segment.numbers[0], y + segment.numbers[1], 1, 1)
    distance = segment.numbers[0]
    x, y = previous.center
    if segment.value == "right-of":
        x = previous.left + previous.width + distance
    elif segment.value == "left-of":
        x = previous.left - distance
    elif segment.value == "above":
        y = previous.top - distance
    else:
        y = previous.top + previous.height + distance
    return Found(x, y, 1, 1)


def _clip(box: Box, within: Box) -> Box:
    left, top = max(box[0], within[0]), max(box[1], within[1])
    right = min(box[0] + box[2], within[0] + within[2])
    bottom = min(box[1] + box[3], within[1] + within[3])
    if right <= left or bottom <= top:
        raise StepError(f"the region {box} lies outside the screen or window {within}", kind="validation")
    return (left, top, right - left, bottom - top)


def find(params: FindParams, *, every: bool = False) -> list[Found]:
    """Resolve the target once.

    Raises:
        NotFound: an image or text segment found nothing.
        StepError: a bad image, window not found, no display.
    """
    segments = parse_target(params.target)
    screen = screen_box()
    scope = the_window(params.window).box if params.window else screen
    current: list[Found] = [Found(*scope)]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment.kind == "window":
            scope = the_window(segment.value).box
            current = [Found(*scope)]
        elif segment.kind == "region":
            left, top, right, bottom = segment.numbers
            scope = _clip((scope[0] + left, scope[1] + top, right - left, bottom - top), screen)
            current = [Found(*scope)]
        elif segment.kind == "point":
            current = [Found(scope[0] + segment.numbers[0], scope[1] + segment.numbers[1], 1, 1)]
        elif segment.kind in ("image", "ocr"):
            current = _search(segment, _clip(scope, screen), params, last, every)
            scope = current[0].box
        else:
            current = [_move(segment, current[0])]
    return current


def _evidence(scope: Box) -> str | None:
    """Save what the area looked like when the target was given up on; the artifact's path."""
    try:
        buffer = io.BytesIO()
        grab(scope).save(buffer, format="PNG")
        return str(context().save_artifact("not-found.png", buffer.getvalue(), content_type="image/png")["artifact"])
    except (StepError, OSError):  # the evidence is a courtesy: never hide the real error behind it
        return None


def locate(params: FindParams, *, every: bool = False, timeout_s: float | None = None) -> list[Found]:
    """Resolve the target, looking again until it appears or the timeout passes.

    Raises:
        StepError: kind `element_not_found` (retryable) after the timeout.
    """
    ctx = context()
    deadline = time.monotonic() + (params.timeout_s if timeout_s is None else timeout_s)
    while True:
        ctx.raise_if_cancelled()
        try:
            return find(params, every=every)
        except NotFound as missing:
            if time.monotonic() >= deadline:
                where = f" in window '{params.window}'" if params.window else ""
                raise StepError(
                    f"target '{shorten(params.target)}'{where} not found after {params.timeout_s:g} s ({missing})",
                    kind="element_not_found",
                    retryable=True,
                    details={
                        "target": shorten(params.target, 400),
                        "segment": str(missing.segment),
                        "screenshot": _evidence(missing.scope),
                    },
                ) from None
        time.sleep(POLL_S)


def wait_until_gone(params: FindParams) -> None:
    """Return once the target is no longer on screen.

    Raises:
        StepError: kind `still_visible` (retryable) after the timeout.
    """
    ctx = context()
    deadline = time.monotonic() + params.timeout_s
    while True:
        ctx.raise_if_cancelled()
        try:
            find(params)
        except NotFound:
            return
        if time.monotonic() >= deadline:
            raise StepError(
                f"target '{shorten(params.target)}' still on screen after {params.timeout_s:g} s",
                kind="still_visible",
                retryable=True,
                details={"target": shorten(params.target, 400)},
            )
        time.sleep(POLL_S)
