"""What the recorder learns about the element of an action: its target descriptor, whether it
takes a secret, and (when asked) a screenshot saved next to the output.

The descriptor comes from the browser family's `describe_element` (Playwright's own selector,
the ranked fallbacks that resolve to the same element, the fingerprint): recording and the
steps measure elements the same way. Playwright reports a click only once its effects are
under way, so the element of a click that navigated is often gone by then: an init script
therefore fingerprints every element the user presses or focuses, in the page, at that moment
(`CAPTURE_JS`, the same `FINGERPRINT_JS`), and such an element keeps the recorder's selector
with that fingerprint (no fallbacks: only a live element can prove a fallback finds it).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.recorder._nodes import ElementInfo, looks_secret
from agent.steps.browser import describe_element
from agent.steps.browser._fingerprint import FINGERPRINT_JS, Fingerprint
from agent.steps.browser._guess import guess_fingerprint
from shared.errors import StepError

__all__ = ["CAPTURE_BINDING", "CAPTURE_JS", "DESCRIBE_TIMEOUT_S", "ElementDescriber", "capture_matches"]

log = logging.getLogger(__name__)

DESCRIBE_TIMEOUT_S = 3.0
"""An element that takes longer to describe is probably going away; the selector alone is kept."""


CAPTURE_BINDING = "__rpaRecorderCapture"
CAPTURE_JS = f"""(() => {{
  if (window.__rpaRecorderCaptureOn) return;
  window.__rpaRecorderCaptureOn = true;
  const fingerprint = {FINGERPRINT_JS.strip()};
  const ACTIVE = 'a,button,input,select,textarea,label,summary,[role],[data-testid],[onclick],[tabindex]';
  const send = (event) => {{
    const target = event.target instanceof Element ? (event.target.closest(ACTIVE) || event.target) : null;
    if (!target || typeof window.{CAPTURE_BINDING} !== 'function') return;
    try {{ window.{CAPTURE_BINDING}(fingerprint(target)); }} catch (err) {{}}
  }};
  for (const type of ['pointerdown', 'focusin', 'change']) document.addEventListener(type, send, true);
}})();"""
"""Fingerprints the element of each press, focus and change as it happens (no field values are read)."""

_KEPT = 50
"""Captured fingerprints kept (the recorder handles actions within a few of them)."""
_COMPARED = ("role", "accessible_name", "label", "placeholder", "test_id", "id", "name", "alt", "title")
_CSS_ID = re.compile(r'\[id="([^"]+)"\]$')


def capture_matches(selector: str, fingerprint: dict[str, Any]) -> bool:
    """Whether a captured fingerprint is the element `selector` names, by what the selector says of it."""
    guess = guess_fingerprint(selector)
    wanted = {k: v for k, v in guess.model_dump().items() if k in (*_COMPARED, "text") and v} if guess else {}
    if not wanted and (found := _CSS_ID.search(selector)):
        wanted = {"id": found.group(1)}
    if not wanted:
        return False
    for key, value in wanted.items():
        have = str(fingerprint.get(key, "")).casefold()
        if (value.casefold() not in have) if key == "text" else (have != value.casefold()):
            return False
    return True


class ElementDescriber:
    """Describes elements by selector, caching per page so typing re-uses one description."""

    def __init__(self, screenshots: Path | None = None) -> None:
        self._screenshots = screenshots
        self._cache: dict[tuple[int, str, str], ElementInfo] = {}
        self._shots = 0
        self._captured: deque[tuple[Any, dict[str, Any]]] = deque(maxlen=_KEPT)

    async def install(self, context: Any) -> None:
        """Fingerprint what the user presses or focuses in every page of `context`, as it happens."""
        await context.expose_binding(CAPTURE_BINDING, self._on_capture)
        await context.add_init_script(CAPTURE_JS)
        for page in context.pages:  # already open: the init script runs on the next load only
            for frame in page.frames:
                try:
                    await frame.evaluate(CAPTURE_JS)
                except Exception as err:  # a frame navigating away: it gets the init script
                    log.debug("capture script not installed in a frame: %s", err)

    def _on_capture(self, source: Any, raw: Any) -> None:
        if not isinstance(raw, dict):
            return
        raw.pop("visible", None)
        try:
            fingerprint = Fingerprint.model_validate(raw).model_dump(mode="json", exclude_defaults=True)
        except ValidationError:  # a page that redefined what the script reads: nothing to keep
            return
        page = source.get("page") if isinstance(source, dict) else getattr(source, "page", None)
        self._captured.append((page, fingerprint))

    def captured(self, page: Any, selector: str) -> dict[str, Any] | None:
        """The latest fingerprint captured in `page` that `selector` names, if any."""
        for captured_page, fingerprint in reversed(self._captured):
            if captured_page is page and capture_matches(selector, fingerprint):
                found: dict[str, Any] = fingerprint
                return found
        return None

    async def describe(self, page: Any, selector: str) -> ElementInfo:
        """The `ElementInfo` of the element `selector` names in `page` (a string target if it is gone)."""
        key = (id(page), getattr(page, "url", ""), selector)
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
        if page.is_closed():
            fingerprint = self.captured(page, selector)
            found = {"selector": selector, "fingerprint": fingerprint} if fingerprint else selector
            return ElementInfo(found, looks_secret(selector, fingerprint))
        locator = page.locator(selector)
        try:
            count = await asyncio.wait_for(locator.count(), DESCRIBE_TIMEOUT_S)
        except Exception as err:  # Playwright's error or a closed page: the element is gone
            log.debug("counting %s failed: %s", selector, err)
            count = 0
        target = await self.describe_locator(locator, selector) if count == 1 else None
        if target is None:
            fingerprint = self.captured(page, selector)
            if fingerprint is None:
                return ElementInfo(selector, looks_secret(selector, None))
            target = {"selector": selector, "fingerprint": fingerprint}
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
