"""The recording session: a headed Chromium, Playwright's recorder, commands in, events out.

One event loop runs everything: recorder events are queued and handled one at a time in order
(describing an element awaits the page, and typing must not overtake the click before it);
commands arrive from a stdin reader thread. `stop`, the end of stdin (the parent died) or the
user closing the browser end the session: the queued actions are handled, the flow is
written, `stopped` is emitted and the browser is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.recorder._adapter import RecordedAction, RecordingAdapter
from agent.recorder._elements import ElementDescriber
from agent.recorder._healed import read_fixes
from agent.recorder._nodes import FlowBuilder, NodeChange
from agent.recorder._picker import Picker
from agent.recorder._protocol import PROTOCOL_VERSION, CommandError, Emitter, StopCommand, parse_command
from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._runtime import chromium_executable, playwright_for_loop, stop_playwright_for_loop
from agent.steps.browser._session import SAFE_ARGS, chromium_env
from shared.errors import StepError

__all__ = ["RecorderOptions", "RecorderSession"]

log = logging.getLogger(__name__)

_SECRET_MIN_LENGTH = 4
"""Typed secrets at least this long are also masked in every line written (defence in depth;
a shorter one would hide single letters everywhere)."""


_CLOSE_SETTLE_S = 0.5
"""How long a closed tab waits to see whether the whole browser is closing."""


@dataclass
class RecorderOptions:
    """How a recording session starts (the command line's options)."""

    url: str
    output: Path | None = None
    name: str = "Recorded flow"
    credential: str = "site"
    headless: bool = False
    screenshots: bool = False
    healed: list[Path] = field(default_factory=list)
    cdp_port: int | None = None
    """Let another client drive the browser (tests, debugging): `--remote-debugging-port`."""
    profile: Path | None = None


class RecorderSession:
    """Runs one recording from `ready` to `stopped`."""

    def __init__(self, options: RecorderOptions, emitter: Emitter | None = None) -> None:
        self.options = options
        self.emitter = emitter or Emitter()
        self.builder = FlowBuilder(start_url=options.url, credential=options.credential)
        shots = options.output.with_suffix(".targets") if options.output and options.screenshots else None
        self.describer = ElementDescriber(shots)
        self._actions: asyncio.Queue[RecordedAction | None] = asyncio.Queue()
        self._commands: asyncio.Queue[str | None] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._reason = "stopped"
        self._pending_secret: str | None = None
        self._ready = False
        self._start_error: str | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self.context: Any = None
        self.adapter: RecordingAdapter | None = None
        self.picker: Picker | None = None

    # --- life cycle ------------------------------------------------------------------
    async def run(self) -> int:
        """Record until stopped; the exit code (0, or 1 when the browser could not start)."""
        try:
            fixes = [fix for path in self.options.healed for fix in read_fixes(path)]
            await self._launch()
        except (StepError, ValueError, OSError) as err:
            self.emitter.error(str(err), kind=getattr(err, "kind", "start"), fatal=True)
            await self._close()
            return 1
        self.emitter.emit("ready", **self._ready_fields())
        self._ready = True
        if self._start_error is not None:
            self.emitter.error(self._start_error, kind="navigation")
        if fixes:
            self.emitter.emit("fixes", fixes=fixes)
        threading.Thread(target=self._read_stdin, args=(asyncio.get_running_loop(),), daemon=True).start()
        worker = asyncio.create_task(self._handle_actions())
        commands = asyncio.create_task(self._handle_commands())
        await self._stopping.wait()
        commands.cancel()
        assert self.picker is not None
        await self.picker.cancel()
        if self.adapter is not None:
            with contextlib.suppress(Exception):  # the browser may be gone already
                await self.adapter.stop()
        self._actions.put_nowait(None)
        await worker
        self._settle_secret()
        written = self._write_output()
        self._ready = False  # `stopped` is the last event: pages closing now are not reported
        self.emitter.emit("stopped", reason=self._reason, nodes=len(self.builder.nodes), output=written)
        await self._close()
        return 0

    async def _launch(self) -> None:
        if not self.options.headless and not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
            raise StepError(
                "the recorder opens a browser window and needs a display: set DISPLAY (e.g. run Xvfb :99 and "
                "DISPLAY=:99) or pass --headless",
                kind="no_display",
            )
        with map_playwright_errors("starting the recorder's browser"):
            await self._open_browser()
        page = self.context.pages[0]
        try:
            await page.goto(self.options.url)
        except Exception as err:  # the page is still there: the user can type another address
            log.debug("start page failed: %s", err)
            self._start_error = f"the start page {self.options.url} did not load ({type(err).__name__})"

    async def _open_browser(self) -> None:
        playwright = await playwright_for_loop()
        args = list(SAFE_ARGS)
        if self.options.cdp_port is not None:
            args += [f"--remote-debugging-port={self.options.cdp_port}", "--remote-debugging-address=127.0.0.1"]
        if self.options.profile is None:
            self._profile = tempfile.TemporaryDirectory(prefix="rpa-recorder-", ignore_cleanup_errors=True)
        profile = str(self.options.profile or (self._profile.name if self._profile else ""))
        self.context = await playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_executable(),
            headless=self.options.headless,
            args=args,
            viewport={"width": 1280, "height": 800},
            env=chromium_env(),  # a deep $TMPDIR is too long for Chromium's socket
        )
        self.context.on("close", lambda _context: self.request_stop("browser_closed"))
        self.context.on("page", self._watch_page)
        page = self.context.pages[0] if self.context.pages else await self.context.new_page()
        self._watch_page(page)
        self.builder.tab_of(page)  # the first tab: browser.open opens it when the flow runs
        await self.describer.install(self.context)
        self.adapter = RecordingAdapter(self.context, self._actions.put_nowait)
        if not RecordingAdapter.supported(self.context):
            raise StepError(
                "this Playwright has no recorder entry point (BrowserContext._start_recording): install the "
                "version range pinned in the browser extra",
                kind="dependency",
            )
        await self.adapter.start()
        self.picker = Picker(self)

    def _ready_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "pid": os.getpid(), "url": self.options.url}
        if self.options.output is not None:
            fields["output"] = str(self.options.output)
        if self.options.cdp_port is not None:
            fields["cdp_endpoint"] = self._cdp_endpoint()
        return fields

    def _cdp_endpoint(self) -> str | None:
        profile = Path(self.options.profile or (self._profile.name if self._profile else ""))
        try:
            port = (profile / "DevToolsActivePort").read_text().split()[0]
        except (OSError, IndexError):
            return None
        return f"http://127.0.0.1:{port}"

    def request_stop(self, reason: str) -> None:
        """End the session (from a command, the end of stdin or the browser closing)."""
        if not self._stopping.is_set():
            self._reason = reason
            self._stopping.set()

    async def _close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(Exception):
                await self.context.close()
        await stop_playwright_for_loop()
        if self._profile is not None:
            self._profile.cleanup()

    # --- pages -----------------------------------------------------------------------
    def _watch_page(self, page: Any) -> None:
        def navigated(frame: Any) -> None:
            if self._ready and frame == page.main_frame and frame.url != "about:blank":
                pages = self.context.pages
                tab = pages.index(page) if page in pages else None
                self.emitter.emit("page", tab=tab, url=frame.url)

        page.on("framenavigated", navigated)
        # Playwright's programmatic recorder drops its `closePage` action (the page is gone when
        # it looks the page up), so a closed tab is reported from here, in the actions' order.
        page.on("close", lambda closed: self._actions.put_nowait(RecordedAction("added", "closePage", {}, closed)))

    # --- recorded actions --------------------------------------------------------------
    async def _handle_actions(self) -> None:
        while (action := await self._actions.get()) is not None:
            try:
                await self._handle(action)
            except Exception:  # one bad action must not end the recording
                log.exception("recording %s failed", action.name)
                self.emitter.error(f"could not record a {action.name!r} action", kind="record")

    async def _handle(self, action: RecordedAction) -> None:
        if action.name == "closePage":
            # Closing the browser window closes every tab first: only a tab closed while the
            # browser stays open is an action of the flow.
            await asyncio.sleep(_CLOSE_SETTLE_S)
            if self._stopping.is_set():
                return
        element = None
        selector = action.data.get("selector")
        if isinstance(selector, str) and action.kind != "signal":
            element = await self.describer.describe(action.page, selector)
        if action.kind == "added":
            self._settle_secret()
        if element is not None and element.secret and action.name == "fill":
            self._pending_secret = str(action.data.get("text", ""))
        for change in self.builder.on_action(action, element):
            self._emit_change(change)

    def _emit_change(self, change: NodeChange) -> None:
        fields: dict[str, Any] = {"node": change.node}
        if change.before is not None:
            fields["before"] = change.before
        self.emitter.emit("action", **fields)

    def _settle_secret(self) -> None:
        if self._pending_secret and len(self._pending_secret) >= _SECRET_MIN_LENGTH:
            self.emitter.masker.add(self._pending_secret)
        self._pending_secret = None

    def _write_output(self) -> str | None:
        if self.options.output is None:
            return None
        document = self.emitter.masker.mask(self.builder.flow(self.options.name))
        try:
            self.options.output.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            self.options.output.write_text(text, encoding="utf-8")
        except OSError as err:
            self.emitter.error(f"cannot write {self.options.output}: {err.strerror}", kind="output")
            return None
        return str(self.options.output)

    # --- commands ----------------------------------------------------------------------
    def _read_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(self._commands.put_nowait, line)
        loop.call_soon_threadsafe(self._commands.put_nowait, None)

    async def _handle_commands(self) -> None:
        assert self.picker is not None
        while True:
            line = await self._commands.get()
            if line is None:
                self.request_stop("stdin_closed")
                return
            if not line.strip():
                continue
            try:
                command = parse_command(line)
            except CommandError as err:
                self.emitter.error(str(err), kind="bad_command", command_id=err.command_id)
                continue
            if isinstance(command, StopCommand):
                self.request_stop("stop")
                return
            await self.picker.handle(command)

    @property
    def active_page(self) -> Any:
        """The tab the user acted in last (the picker works there)."""
        pages = [p for p in self.builder.tabs if not p.is_closed()]
        if 0 <= self.builder.active < len(self.builder.tabs) and not self.builder.tabs[self.builder.active].is_closed():
            return self.builder.tabs[self.builder.active]
        return pages[-1] if pages else None
