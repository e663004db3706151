"""What every page step does around its own work: find the session and the frame, translate
Playwright's errors, attach evidence to a failure, keep a checkpoint after a success."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._models import FrameRef, PageParams
from agent.steps.browser._session import BrowserSession, current_session
from agent.steps.browser._targets import Located, State, Target, locate
from shared.errors import StepError
from shared.steps import context

__all__ = ["Acting", "acting", "attach_evidence", "resolve_frame"]

EVIDENCE_TIMEOUT_MS = 5000


@dataclass
class Acting:
    """The session, and the page or frame a step acts in."""

    session: BrowserSession
    scope: Any
    timeout_s: float

    @property
    def page(self) -> Any:
        """The active tab."""
        return self.session.page

    async def find(self, target: Target, *, state: State = "visible", lazy: bool = True) -> Located:
        """Locate `target` in the scope (see the targets module: fallbacks, anchors, healing).

        A plain selector string, with `lazy`, becomes a Playwright locator without a look-up of
        its own: the action that follows waits for the element and enforces strict mode in the
        same round trip (a look-up first would double the cost of every fill). Descriptors with
        fallbacks, anchors, an index or a fingerprint always go through `locate`.
        """
        if lazy and isinstance(target, str) and state in ("visible", "attached"):
            return Located(locator=self.scope.locator(target), selector=target)
        return await locate(self.scope, target, timeout_s=self.timeout_s, state=state)


def _as_refs(frame: str | FrameRef | list[FrameRef] | None) -> list[FrameRef]:
    if frame is None:
        return []
    if isinstance(frame, str):
        return [FrameRef(selector=frame)]
    return [frame] if isinstance(frame, FrameRef) else list(frame)


def _descendants(scope: Any) -> list[Any]:
    """Every frame below a page (its main frame left out) or below a frame, outermost first."""
    if hasattr(scope, "main_frame"):
        return [f for f in scope.frames if f is not scope.main_frame]
    found, queue = [], list(scope.child_frames)
    while queue:
        frame = queue.pop(0)
        found.append(frame)
        queue.extend(frame.child_frames)
    return found


async def _one_frame(scope: Any, ref: FrameRef, deadline: float) -> Any:
    import fnmatch

    while True:
        if ref.selector:
            handle = await scope.locator(ref.selector).element_handle(
                timeout=max(1.0, (deadline - time.monotonic()) * 1000)
            )
            found = await handle.content_frame() if handle is not None else None
        else:
            found = next(
                (
                    f
                    for f in _descendants(scope)
                    if (ref.name and f.name == ref.name) or (ref.url and fnmatch.fnmatch(f.url, ref.url))
                ),
                None,
            )
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            what = ref.selector or (f"name '{ref.name}'" if ref.name else f"url '{ref.url}'")
            raise StepError(f"no iframe found by {what}", kind="frame_not_found", retryable=True)
        await asyncio.sleep(0.1)


async def resolve_frame(page: Any, frame: str | FrameRef | list[FrameRef] | None, timeout_s: float) -> Any:
    """The page itself, or the (nested) frame the params name, waiting for it to appear."""
    scope = page
    deadline = time.monotonic() + timeout_s
    for ref in _as_refs(frame):
        scope = await _one_frame(scope, ref, deadline)
    return scope


async def attach_evidence(session: BrowserSession, error: StepError) -> None:
    """Add a screenshot artifact, the URL and the title of the active tab to a failure."""
    if session.closed or not session.pages or "screenshot" in error.details:
        return
    ctx = context()
    page = session.page
    error.details["url"] = page.url
    with contextlib.suppress(Exception):
        error.details["title"] = await asyncio.wait_for(page.title(), EVIDENCE_TIMEOUT_MS / 1000)
    with contextlib.suppress(Exception):
        image = await page.screenshot(timeout=EVIDENCE_TIMEOUT_MS)
        error.details["screenshot"] = ctx.save_artifact("failure.png", image, content_type="image/png")["artifact"]


@asynccontextmanager
async def acting(params: PageParams, what: str, *, checkpoint: bool = True) -> AsyncIterator[Acting]:
    """Run a page step's body with its session and scope; the body's errors are translated.

    Args:
        params: the step's params (session, frame, timeout).
        what: what the step does, for error messages (`click '#send'`).
        checkpoint: keep the session's state for a resume afterwards. False for steps that
            cannot change cookies, storage or the URL (filling a field, reading): a resume
            reopens the page at its URL, so a field's typed value is never part of the state.
    """
    session = await current_session(params.session)
    try:
        with map_playwright_errors(f"{what} on {session.page.url}"):
            scope = await resolve_frame(session.page, params.frame, params.timeout_s)
            yield Acting(session=session, scope=scope, timeout_s=params.timeout_s)
    except StepError as err:
        await attach_evidence(session, err)
        raise
    if checkpoint:
        await session.save_checkpoint()
