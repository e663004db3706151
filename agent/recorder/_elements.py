"""What the recorder learns about the element of an action: its target descriptor, whether it
takes a secret, and (when asked) a screenshot saved next to the output.

The descriptor comes from the browser family's `describe_element` (Playwright's own selector,
the ranked fallbacks that resolve to the same element, the fingerprint): recording and the
steps measure elements the same way. An element already gone (a click that navigated away)
keeps the recorder's selector alone, which is a valid target too.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from agent.recorder._nodes import ElementInfo, looks_secret
from agent.steps.browser import describe_element
from shared.errors import StepError

__all__ = ["DESCRIBE_TIMEOUT_S", "ElementDescriber"]

log = logging.getLogger(__name__)

DESCRIBE_TIMEOUT_S = 3.0
"""An element that takes longer to describe is probably going away; the selector alone is kept."""


class ElementDescriber:
    """Describes elements by selector, caching per page so typing re-uses one description."""

    def __init__(self, screenshots: Path | None = None) -> None:
        self._screenshots = screenshots
        self._cache: dict[tuple[int, str], ElementInfo] = {}
        self._shots = 0

    async def describe(self, page: Any, selector: str) -> ElementInfo:
        """The `ElementInfo` of the element `selector` names in `page` (a string target if it is gone)."""
        key = (id(page), selector)
        if key in self._cache:
            return self._cache[key]
        info = await self._describe(page, selector)
        self._cache[key] = info
        return info

    async def describe_locator(self, locator: Any, selector: str) -> dict[str, Any] | None:
        """A target descriptor of the one element `locator` resolves to, or None if it cannot be read."""
        try:
            spec = await asyncio.wait_for(describe_element(locator, screenshot=False), DESCRIBE_TIMEOUT_S)
        except (StepError, TimeoutError) as err:
            log.debug("describing %s failed: %s", selector, err)
            return None
        target: dict[str, Any] = spec.model_dump(mode="json", exclude_defaults=True)
        if selector != spec.selector and selector not in spec.fallbacks:
            target["fallbacks"] = [selector, *spec.fallbacks]
        if self._screenshots is not None and "fingerprint" in target:
            shot = await self._screenshot(locator)
            if shot is not None:
                target["fingerprint"]["screenshot"] = shot
        return target

    async def _describe(self, page: Any, selector: str) -> ElementInfo:
        if page is None:
            return ElementInfo(selector, looks_secret(selector, None))
        locator = page.locator(selector)
        try:
            count = await asyncio.wait_for(locator.count(), DESCRIBE_TIMEOUT_S)
        except Exception as err:  # Playwright's error or a closed page: the element is gone
            log.debug("counting %s failed: %s", selector, err)
            count = 0
        target = await self.describe_locator(locator, selector) if count == 1 else None
        if target is None:
            return ElementInfo(selector, looks_secret(selector, None))
        return ElementInfo(target, looks_secret(selector, target.get("fingerprint")))

    async def _screenshot(self, locator: Any) -> str | None:
        assert self._screenshots is not None
        self._shots += 1
        path = self._screenshots / f"target-{self._shots}.png"
        try:
            png: bytes = await locator.screenshot(type="png", scale="css", animations="disabled", timeout=3000)
        except Exception as err:  # gone or hidden: no picture, the target still stands
            log.debug("element screenshot failed: %s", err)
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return f"{self._screenshots.name}/{path.name}"
