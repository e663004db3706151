"""Steps that open and close sessions and manage their tabs."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.steps.browser import _checkpoint as cp
from agent.steps.browser._acting import attach_evidence
from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._models import DEFAULT_SESSION
from agent.steps.browser._session import OpenParams, current_session, open_session, resource_key
from shared.errors import StepError
from shared.steps import context, step

__all__ = ["close", "close_tab", "new_tab", "open_", "switch_tab"]

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


async def _tab_info(session: Any) -> dict[str, Any]:
    page = session.page
    return {
        "session": session.name,
        "tab": session.active,
        "tabs": len(session.pages),
        "url": page.url,
        "title": await page.title(),
    }


@step("browser.open", params=OpenParams, output="{session, tab, tabs, url, title}", capability="browser")
async def open_(params: OpenParams) -> dict[str, Any]:
    """Open a browser session (Chromium) that later browser steps of this execution use.

    The session stays open until `browser.close` or the end of the execution, and is closed
    even when the execution fails or is cancelled. Several sessions can be open at once, each
    with its own name, cookies and tabs.

    Example node:
        {"id": "open", "type": "browser.open",
         "params": {"url": "https://erp.example/login", "locale": "fr-FR", "record_video": true}}
    """
    session = await open_session(params)
    try:
        with map_playwright_errors(f"opening session '{params.session}'"):
            info = await _tab_info(session)
    except StepError as err:
        await attach_evidence(session, err)
        raise
    await session.save_checkpoint()
    return info


class CloseParams(BaseModel):
    """Params of `browser.close`."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(DEFAULT_SESSION, pattern=_NAME, description="Name of the session to close.")


@step("browser.close", params=CloseParams, output="True when a session was closed.", capability="browser")
async def close(params: CloseParams) -> bool:
    """Close a browser session now (videos and HAR are saved as artifacts).

    Closing a session that is not open does nothing and returns false.

    Example node:
        {"id": "done", "type": "browser.close", "params": {"session": "main"}}
    """
    ctx = context()
    session = ctx.resources.pop(resource_key(params.session))
    if session is None:
        # Resumed right before this step: the session was never reopened, its state waits on disk.
        cp.delete_checkpoint(cp.checkpoint_path(ctx.execution_id, params.session))
        return False
    await session.close()
    return True


class NewTabParams(BaseModel):
    """Params of `browser.new_tab`."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(DEFAULT_SESSION, pattern=_NAME, description="Name of the session.")
    url: str | None = Field(None, description="A page to open in the new tab.")
    timeout_s: float = Field(30.0, gt=0, le=3600, description="How long the page may take to load.")


@step("browser.new_tab", params=NewTabParams, output="{session, tab, tabs, url, title}", capability="browser")
async def new_tab(params: NewTabParams) -> dict[str, Any]:
    """Open a new tab in a session and make it the active one.

    Example node:
        {"id": "tab", "type": "browser.new_tab", "params": {"url": "https://erp.example/reports"}}
    """
    session = await current_session(params.session)
    with map_playwright_errors(f"opening a tab in session '{params.session}'"):
        page = await session.context.new_page()
        session.adopt(page)
        session.active = session.pages.index(page)
        if params.url:
            await page.goto(params.url, timeout=params.timeout_s * 1000)
        info = await _tab_info(session)
    await session.save_checkpoint()
    return info


class SwitchTabParams(BaseModel):
    """Params of `browser.switch_tab`: one of index, title or url."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(DEFAULT_SESSION, pattern=_NAME, description="Name of the session.")
    index: int | None = Field(None, description="Tab number, 0 = the first; -1 = the newest.")
    title: str | None = Field(None, description="A glob the tab's title matches, e.g. `Invoice*`.")
    url: str | None = Field(None, description="A glob the tab's URL matches, e.g. `*/popup*`.")
    timeout_s: float = Field(
        10.0, gt=0, le=3600, description="How long to wait for a matching tab (a popup that is still opening)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SwitchTabParams:
        given = [k for k in ("index", "title", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of index, title or url")
        return self


async def _matching_tab(session: Any, params: SwitchTabParams) -> int | None:
    pages = session.pages
    if params.index is not None:
        count = len(pages)
        return params.index % count if -count <= params.index < count else None
    for number, page in enumerate(pages):
        if params.url is not None and fnmatch.fnmatch(page.url, params.url):
            return number
        if params.title is not None and fnmatch.fnmatch(await page.title(), params.title):
            return number
    return None


@step("browser.switch_tab", params=SwitchTabParams, output="{session, tab, tabs, url, title}", capability="browser")
async def switch_tab(params: SwitchTabParams) -> dict[str, Any]:
    """Make another tab the active one: by number, title or URL; waits for a popup to appear.

    Tabs the site opens (links with `target=_blank`, `window.open`) join the session by
    themselves; switch to them with this step.

    Example node:
        {"id": "to_popup", "type": "browser.switch_tab", "params": {"url": "*/invoice/*"}}
    """
    session = await current_session(params.session)
    deadline = time.monotonic() + params.timeout_s
    with map_playwright_errors(f"switching tab in session '{params.session}'"):
        while (found := await _matching_tab(session, params)) is None:
            if time.monotonic() >= deadline:
                wanted = params.index if params.index is not None else (params.title or params.url)
                raise StepError(
                    f"no tab matches {wanted!r} in session '{params.session}' ({len(session.pages)} open)",
                    kind="tab_not_found",
                    retryable=True,
                )
            await asyncio.sleep(0.1)
        session.active = found
        page = session.page
        await page.bring_to_front()
        await page.wait_for_load_state("domcontentloaded", timeout=params.timeout_s * 1000)
        info = await _tab_info(session)
    await session.save_checkpoint()
    return info


class CloseTabParams(BaseModel):
    """Params of `browser.close_tab`."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(DEFAULT_SESSION, pattern=_NAME, description="Name of the session.")
    index: int | None = Field(None, description="Tab number to close; default the active tab.")


@step("browser.close_tab", params=CloseTabParams, output="{session, tab, tabs, url, title}", capability="browser")
async def close_tab(params: CloseTabParams) -> dict[str, Any]:
    """Close a tab; the tab before it becomes active. The last tab cannot be closed (close the session).

    Example node:
        {"id": "close_popup", "type": "browser.close_tab", "params": {}}
    """
    session = await current_session(params.session)
    count = len(session.pages)
    index = session.active if params.index is None else params.index
    if not -count <= index < count:
        raise StepError(
            f"session '{params.session}' has no tab {index} ({count} open)", kind="tab_not_found", retryable=False
        )
    if count == 1:
        raise StepError(
            "the last tab of a session cannot be closed: use browser.close", kind="browser", retryable=False
        )
    with map_playwright_errors(f"closing tab {index} of session '{params.session}'"):
        page = session.pages[index]
        await page.close()
        session._on_close(page)
        session.active = min(session.active, len(session.pages) - 1)
        info = await _tab_info(session)
    await session.save_checkpoint()
    return info
