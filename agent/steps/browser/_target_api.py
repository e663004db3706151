"""The element targets the actions use: `Target` (a field type) and `locate()`.

Stand-in with the agreed signature (a selector string, strict, with Playwright's own waiting)
until the targets module with fallbacks, anchors and healing is merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.steps.browser._errors import map_playwright_errors

__all__ = ["Located", "Target", "locate"]

Target = str


@dataclass
class Located:
    """An element found on the page: its locator, and the selector that found it."""

    locator: Any
    selector: str
    healed: bool = False


async def locate(scope: Any, target: Target, *, timeout_s: float, state: str = "visible", heal: bool = True) -> Located:
    """Find `target` in `scope` (a page or frame), waiting up to `timeout_s` for `state`."""
    locator = scope.locator(target)
    with map_playwright_errors(f"find '{target}'"):
        await locator.wait_for(state=state, timeout=timeout_s * 1000)
    return Located(locator=locator, selector=target, healed=False)
