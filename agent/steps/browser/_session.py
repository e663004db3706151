"""Browser sessions: one Chromium, one context, its tabs; kept in the execution's resources.

A session is opened by `browser.open` and stored under `browser:<name>` in
`context().resources`; the engine closes it (context, browser; video and HAR saved as
artifacts) when the execution ends, fails, is cancelled or its host stops. Every later step
finds it with `current_session(name)`, which on a resumed execution reopens it from its
checkpoint (see `_checkpoint.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.steps.browser import _checkpoint as cp
from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._models import DEFAULT_SESSION, ProxySpec, Viewport
from agent.steps.browser._runtime import chromium_executable, playwright_for_loop, shared_browsers
from shared.engine import RESTART_POINT, RestartFrom
from shared.errors import StepError
from shared.steps import StepContext, context

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Dialog, Page

__all__ = ["BrowserSession", "DialogPlan", "OpenParams", "current_session", "open_session", "resource_key"]

SAFE_ARGS = ("--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-default-apps")
_ROTATION: dict[tuple[str, ...], itertools.count[int]] = {}


class OpenParams(BaseModel):
    """How a session is opened (kept in its checkpoint to reopen it the same way)."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(DEFAULT_SESSION, pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Name of the session.")
    url: str | None = Field(None, description="A page to open first.")
    headless: bool = Field(True, description="Run without a window (headed needs a display, e.g. Xvfb).")
    viewport: Viewport = Field(default_factory=Viewport, description="Page size in CSS pixels.")
    locale: str | None = Field(None, description="Browser locale, e.g. `fr-FR` (Accept-Language, number formats).")
    timezone: str | None = Field(None, description="IANA time zone, e.g. `Europe/Paris`.")
    user_agent: str | None = Field(None, description="User-Agent header and `navigator.userAgent`.")
    proxy: ProxySpec | list[ProxySpec] | None = Field(
        None, description="A proxy, or a list: each new session of this agent takes the next one (rotation)."
    )
    downloads_dir: str | None = Field(
        None, description="Folder where downloads are saved by default (default: the step's artifacts)."
    )
    profile_dir: str | None = Field(
        None, description="Persistent profile folder: cookies and storage are kept there between runs."
    )
    storage_state: str | None = Field(
        None, description="A storage-state file (from `browser.save_storage`) to start with: log in once, reuse."
    )
    record_video: bool = Field(False, description="Record a video of each tab, saved as artifacts on close.")
    record_har: bool = Field(
        False,
        description="Record a HAR of the traffic, saved as an artifact on close (holds cookies: handle with care).",
    )
    ignore_https_errors: bool = Field(False, description="Accept invalid TLS certificates.")
    timeout_s: float = Field(30.0, gt=0, le=3600, description="Default time to wait for elements and pages.")
    slow_mo_ms: int = Field(0, ge=0, le=10000, description="Pause after every browser operation (debugging).")
    args: list[str] = Field(default_factory=list, description="Extra Chromium command-line switches.")
    on_resume: Literal["restore", "restart"] = Field(
        "restore",
        description=(
            "On a resumed execution: `restore` reopens the session with the cookies, storage and tabs "
            "of its last completed step (and fails with `no_session` when its state is lost); `restart` "
            "runs the session's steps again from this `browser.open`."
        ),
    )
    checkpoint: bool = Field(True, description="Keep the session's state after each step so a resume can restore it.")

    @field_validator("args")
    @classmethod
    def _no_disable_features(cls, value: list[str]) -> list[str]:
        for arg in value:
            if not arg.startswith("--"):
                raise ValueError(f"Chromium switches start with '--': {arg!r}")
            if arg.startswith("--disable-features="):
                raise ValueError("--disable-features is set by Playwright; Chromium keeps only the last one")
        return value


@dataclass
class DialogPlan:
    """What to do with the next dialog (alert, confirm, prompt, beforeunload)."""

    action: Literal["accept", "dismiss"]
    prompt_text: str | None = None
    once: bool = True


def resource_key(name: str) -> str:
    """The key of a session in the execution's resources."""
    return f"browser:{name}"


@dataclass
class BrowserSession:
    """An open browser session: its context, its tabs and the active one."""

    name: str
    options: OpenParams
    owner: StepContext
    context: BrowserContext
    browser: Browser | None
    workdir: Path
    pages: list[Page] = field(default_factory=list)
    active: int = 0
    dialog_plans: list[DialogPlan] = field(default_factory=list)
    dialogs: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_file: Path | None = None
    _last_saved: str = ""
    closed: bool = False

    @property
    def page(self) -> Page:
        """The active tab."""
        if not self.pages:
            raise StepError(f"browser session '{self.name}' has no open tab", kind="browser", retryable=False)
        return self.pages[min(self.active, len(self.pages) - 1)]

    def adopt(self, page: Page) -> None:
        """Track a tab opened by the flow or by the site (popups, `target=_blank`)."""
        if page in self.pages:
            return
        self.pages.append(page)
        page.on("dialog", self._on_dialog)
        page.on("close", self._on_close)

    def _on_close(self, page: Page) -> None:
        if page in self.pages:
            index = self.pages.index(page)
            self.pages.remove(page)
            if self.active >= index and self.active > 0:
                self.active -= 1

    async def _on_dialog(self, dialog: Dialog) -> None:
        plan = self.dialog_plans[0] if self.dialog_plans else None
        record = {"type": dialog.type, "message": dialog.message, "action": plan.action if plan else "dismiss"}
        self.dialogs.append(record)
        self.owner.log(f"browser dialog ({dialog.type}) answered with {record['action']}: {dialog.message[:200]}")
        with contextlib.suppress(Exception):  # the page may be gone already
            if plan is None:
                await dialog.dismiss()
            elif plan.action == "accept":
                await dialog.accept(plan.prompt_text or "") if dialog.type == "prompt" else await dialog.accept()
            else:
                await dialog.dismiss()
        if plan is not None and plan.once:
            self.dialog_plans.pop(0)

    async def save_checkpoint(self) -> None:
        """Keep the storage state and every tab's URL for a resume (written only when they changed)."""
        if self.checkpoint_file is None or self.closed or not self.pages:
            return
        with map_playwright_errors(f"saving the state of browser session '{self.name}'"):
            state = await self.context.storage_state()
        urls = [page.url for page in self.pages]
        active = min(self.active, len(self.pages) - 1)
        import json

        signature = json.dumps([urls, active, state], sort_keys=True)
        if signature == self._last_saved:
            return
        await asyncio.to_thread(
            cp.write_checkpoint,
            self.checkpoint_file,
            {
                "session": self.name,
                "url": urls[active],
                "urls": urls,
                "active": active,
                "options": self.options.model_dump(mode="json"),
                "storage_state": state,
            },
        )
        self._last_saved = signature

    async def close(self, *, keep_checkpoint: bool = False) -> None:
        """Close the context and browser; save video and HAR as artifacts."""
        if self.closed:
            return
        self.closed = True
        videos = [page.video for page in self.pages if page.video is not None]
        try:
            with contextlib.suppress(Exception):
                await self.context.close()
            if self.browser is not None:
                await shared_browsers.release(self.browser)
            await self._keep_recordings(videos)
        finally:
            if self.checkpoint_file is not None and not keep_checkpoint:
                cp.delete_checkpoint(self.checkpoint_file)
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def _keep_recordings(self, videos: list[Any]) -> None:
        for number, video in enumerate(videos, start=1):
            with contextlib.suppress(Exception):
                path = Path(await video.path())
                if _non_empty(path):
                    self.owner.save_artifact(f"video-{self.name}-{number}.webm", path, content_type="video/webm")
        har = self.workdir / "session.har"
        if har.exists():
            self.owner.save_artifact(f"traffic-{self.name}.har", har, content_type="application/json")


def _non_empty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _profile_folder(profile_dir: str) -> str:
    profile = Path(profile_dir).expanduser()
    profile.mkdir(parents=True, exist_ok=True)
    return str(profile)


def _host_stopping() -> bool:
    """True while the engine closes resources because its task is being cancelled (host stop)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _close_resource(session: BrowserSession) -> None:
    await session.close(keep_checkpoint=_host_stopping())


def _pick_proxy(proxy: ProxySpec | list[ProxySpec] | None) -> ProxySpec | None:
    if proxy is None or isinstance(proxy, ProxySpec):
        return proxy
    if not proxy:
        return None
    key = tuple(p.server for p in proxy)
    counter = _ROTATION.setdefault(key, itertools.count())
    return proxy[next(counter) % len(proxy)]


def _proxy_settings(ctx: StepContext, spec: ProxySpec | None) -> dict[str, str] | None:
    if spec is None:
        return None
    settings = {"server": spec.server}
    if spec.bypass:
        settings["bypass"] = spec.bypass
    if spec.credential:
        settings["username"] = ctx.secret(f"{spec.credential}.username")
        settings["password"] = ctx.secret(f"{spec.credential}.password")
    return settings


def _context_options(options: OpenParams, workdir: Path, storage_state: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "viewport": {"width": options.viewport.width, "height": options.viewport.height},
        "accept_downloads": True,
        "ignore_https_errors": options.ignore_https_errors,
    }
    for key, value in (
        ("locale", options.locale),
        ("timezone_id", options.timezone),
        ("user_agent", options.user_agent),
    ):
        if value:
            result[key] = value
    if options.record_video:
        result["record_video_dir"] = str(workdir / "video")
        result["record_video_size"] = dict(result["viewport"])
    if options.record_har:
        result["record_har_path"] = str(workdir / "session.har")
    if storage_state is not None:
        result["storage_state"] = storage_state
    return result


MAX_CHROMIUM_TMPDIR = 60
"""Chromium puts its singleton socket at `$TMPDIR/org.chromium.Chromium.XXXXXX/SingletonSocket`
and aborts at start ("Socket path too long") when that passes a Unix socket's 107 characters."""


def chromium_env() -> dict[str, str | float | bool] | None:
    """The environment Chromium is started with when the temporary folder's path is too long for
    its socket (an agent run from a deep folder, a test's temporary folder): the same, with the
    system's temporary folder. None when the environment can be used as it is."""
    import os

    if len(tempfile.gettempdir()) <= MAX_CHROMIUM_TMPDIR:
        return None
    short = next((d for d in ("/tmp", "/var/tmp") if os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK)), None)
    if short is None:
        return None  # nowhere shorter: Chromium says why it cannot start
    return {**os.environ, "TMPDIR": short}


async def _launch(options: OpenParams, ctx: StepContext, workdir: Path, storage_state: Any) -> tuple[Any, Any]:
    import os

    playwright = await playwright_for_loop()
    executable = chromium_executable()
    if not options.headless and not os.environ.get("DISPLAY") and os.name == "posix":
        raise StepError(
            "a headed browser needs a display: set DISPLAY (e.g. start Xvfb) or open the session with headless: true",
            kind="dependency",
            retryable=False,
        )
    launch: dict[str, Any] = {
        "executable_path": executable,
        "headless": options.headless,
        "args": [*SAFE_ARGS, *options.args],
        "slow_mo": options.slow_mo_ms,
    }
    env = chromium_env()
    if env is not None:
        launch["env"] = env
    context_options = _context_options(options, workdir, storage_state)
    proxy = _proxy_settings(ctx, _pick_proxy(options.proxy))
    if proxy is not None:
        context_options["proxy"] = proxy
    with map_playwright_errors(f"starting Chromium ({executable}) for session '{options.session}'"):
        if options.profile_dir:
            if storage_state is not None:
                context_options.pop("storage_state")
            browser_context = await playwright.chromium.launch_persistent_context(
                _profile_folder(options.profile_dir), **launch, **context_options
            )
            if storage_state is not None:
                await browser_context.add_cookies(storage_state.get("cookies", []))
            return None, browser_context
        browser = await shared_browsers.acquire(playwright, launch)
        try:
            browser_context = await browser.new_context(**context_options)
        except BaseException:
            await shared_browsers.release(browser)
            raise
        return browser, browser_context


async def _start(
    options: OpenParams, ctx: StepContext, storage_state: Any, url: str | None, tabs: Tabs | None = None
) -> BrowserSession:
    workdir = Path(tempfile.mkdtemp(prefix=f"rpa-browser-{options.session}-"))
    try:
        browser, browser_context = await _launch(options, ctx, workdir, storage_state)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    session = BrowserSession(
        name=options.session, options=options, owner=ctx, context=browser_context, browser=browser, workdir=workdir
    )
    ctx.resources.put(resource_key(options.session), session, close=_close_resource)
    browser_context.set_default_timeout(options.timeout_s * 1000)
    browser_context.on("page", session.adopt)
    for page in browser_context.pages:
        session.adopt(page)
    with map_playwright_errors(f"opening a tab in session '{options.session}'"):
        if not session.pages:
            session.adopt(await browser_context.new_page())
        if tabs is not None:
            await _reopen_tabs(session, tabs)
        elif url:
            await session.page.goto(url)
    if options.checkpoint:
        session.checkpoint_file = cp.checkpoint_path(ctx.execution_id, options.session)
    return session


@dataclass(frozen=True)
class Tabs:
    """The tabs a checkpoint names: their URLs in tab order, and the active one."""

    urls: list[str]
    active: int

    @classmethod
    def of(cls, saved: dict[str, Any]) -> Tabs:
        """The tabs of a checkpoint (one written before tabs were kept names only the active URL)."""
        urls = [u for u in saved.get("urls") or [saved.get("url")] if isinstance(u, str)] or ["about:blank"]
        active = saved.get("active", 0)
        return cls(urls, active if isinstance(active, int) and 0 <= active < len(urls) else 0)


async def _reopen_tabs(session: BrowserSession, tabs: Tabs) -> None:
    """Open every tab of the checkpoint, the active one last (it gets the focus), in tab order."""
    order = [i for i in range(len(tabs.urls)) if i != tabs.active] + [tabs.active]
    opened: dict[int, Page] = {}
    for number, index in enumerate(order):
        page = session.pages[0] if number == 0 else await session.context.new_page()
        session.adopt(page)
        opened[index] = page
        if tabs.urls[index] != "about:blank":
            await page.goto(tabs.urls[index])
    session.pages[:] = [opened[i] for i in range(len(tabs.urls))] + [
        p for p in session.pages if p not in opened.values()
    ]
    session.active = tabs.active
    await session.page.bring_to_front()


def _load_storage_file(path: str) -> Any:
    import json

    try:
        return json.loads(Path(path).expanduser().read_text())
    except FileNotFoundError:
        raise StepError(f"storage state file {path} does not exist", kind="file_not_found", retryable=False) from None
    except (OSError, ValueError) as exc:
        raise StepError(
            f"storage state file {path} cannot be read: {exc}", kind="invalid_file", retryable=False
        ) from None


async def open_session(options: OpenParams) -> BrowserSession:
    """Open a named session for the running step's execution.

    Raises:
        StepError: kind `session_exists` when a session of that name is already open.
    """
    ctx = context()
    if ctx.resources.get(resource_key(options.session)) is not None:
        raise StepError(
            f"browser session '{options.session}' is already open; close it first or use another name",
            kind="session_exists",
            retryable=False,
        )
    state = _load_storage_file(options.storage_state) if options.storage_state else None
    await asyncio.to_thread(cp.sweep_old)
    session = await _start(options, ctx, state, options.url)
    if options.on_resume == "restart":  # a later step that finds it gone runs again from here
        ctx.note(RESTART_POINT, {"scope": cp.key(options.session)})
    if session.checkpoint_file is not None:
        where = f"{session.checkpoint_file.parent.name}/{session.checkpoint_file.name}"
        ctx.note("browser.checkpoint", {"session": options.session, "file": where})
    return session


async def current_session(name: str) -> BrowserSession:
    """The open session `name`; on a resumed execution, reopened from its checkpoint.

    Raises:
        StepError: kind `no_session` when no session of that name is open or can be restored.
    """
    ctx = context()
    found = ctx.resources.get(resource_key(name))
    if isinstance(found, BrowserSession):
        return found
    saved = cp.read_checkpoint(cp.checkpoint_path(ctx.execution_id, name))
    if saved is None or saved.get("options", {}).get("on_resume") == "restart":
        # Honoured by the engine when the session was opened with `on_resume: restart` (its
        # browser.open is the restart point); otherwise this is the step's error.
        raise RestartFrom(
            cp.key(name),
            f"no browser session named '{name}' is open and none can be restored: add a browser.open step "
            "before this one, or open it with on_resume 'restart' to run its steps again after a resume",
            kind="no_session",
            details={"session": name},
        )
    options = OpenParams.model_validate(saved["options"])
    tabs = Tabs.of(saved)
    session = await _start(options, ctx, saved.get("storage_state"), None, tabs)
    ctx.log(f"browser session '{name}' restored after a resume ({len(tabs.urls)} tab(s))")
    ctx.note("browser.restored", {"session": name, "tabs": len(tabs.urls)})
    return session
