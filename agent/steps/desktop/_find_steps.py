"""Finding steps: locate a target (one or every match), wait for it to appear or vanish."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.steps.desktop._params import FindParams
from agent.steps.desktop._resolve import locate as locate_target
from agent.steps.desktop._resolve import wait_until_gone
from shared.steps import step

__all__ = ["locate", "wait"]


class LocateParams(FindParams):
    every: bool = Field(False, description="Return every match (non-overlapping), not only the best.")


class WaitParams(FindParams):
    state: Literal["appear", "vanish"] = Field("appear", description="Wait for the target to appear or to vanish.")


@step(
    "desktop.locate",
    params=LocateParams,
    output="{left, top, width, height, x, y, confidence} or, with every, a list of them",
    capability="desktop",
    effects=False,
)
def locate(params: LocateParams) -> dict[str, Any] | list[dict[str, Any]]:
    """Find a target on screen (an image by template matching, text by OCR) and return its box.

    Waits up to `timeout_s`; fails with the retryable kind `element_not_found`.

    Example node: `{"id": "logo", "type": "desktop.locate",
    "params": {"target": "image:logo.png", "confidence": 0.85, "scales": [0.8, 1.0, 1.25]}}`
    """
    found = locate_target(params, every=params.every)
    if params.every:
        return [f.as_dict() for f in found]
    return found[0].as_dict()


@step(
    "desktop.wait",
    params=WaitParams,
    output="The match (appear) or null (vanish).",
    capability="desktop",
    effects=False,
)
def wait(params: WaitParams) -> dict[str, Any] | None:
    """Wait until a target appears (returns it) or vanishes (a spinner, a dialog).

    Fails after `timeout_s` with a retryable error: `element_not_found` or `still_visible`.

    Example node: `{"id": "saved", "type": "desktop.wait",
    "params": {"target": "ocr:\\"Saved\\"", "state": "appear", "timeout_s": 30}}`
    """
    if params.state == "vanish":
        wait_until_gone(params)
        return None
    return locate_target(params)[0].as_dict()
