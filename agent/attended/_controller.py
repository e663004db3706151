"""The attended agent's controls in one place, Qt-free: the tray and the benchmark drive this.

`AttendedController` binds the hotkeys of the cached flows and the global pause/resume and stop
hotkeys, starts runs (from a hotkey's thread or the tray's menu) on the runtime's loop, and keeps
the current run and the last ones. Listeners hear of every change (the tray's icon and menu).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from agent.attended._cache import CachedFlow, FlowCache
from agent.attended._runs import AttendedRun, AttendedRunError, resume_attended, start_attended
from agent.attended.hotkeys import Hotkey, Hotkeys
from agent.runtime import AgentRuntime

log = logging.getLogger("rpa.agent.attended")

DEFAULT_PAUSE = "Ctrl+Alt+Shift+P"
DEFAULT_STOP = "Ctrl+Alt+Shift+S"
KEEP_RUNS = 20
NOT_ENROLLED = "this machine is not enrolled yet: use Sign in… or Enrol this machine… first"

Listener = Callable[["AttendedController"], object]


def _ignoring_hotkey(action: Callable[[], None]) -> Callable[[Hotkey], None]:
    def call(_hotkey: Hotkey) -> None:
        action()

    return call


class AttendedController:
    """Hotkeys, the current attended run and the last ones.

    Args:
        runtime: the agent runtime (started or not: runs start either way); None on a machine
            not enrolled yet, until `attach` gives it one (runs are refused until then).
        cache: the flows kept for attended runs.
        user_id: the user signed in to the tray (named in each run's report).
        hotkeys: the hotkeys (None: no global hotkeys, e.g. no display).
        pause_hotkey: toggles pause of the current run.
        stop_hotkey: stops the current run.
    """

    def __init__(
        self,
        runtime: AgentRuntime | None,
        cache: FlowCache,
        *,
        user_id: str | None,
        hotkeys: Hotkeys | None = None,
        pause_hotkey: str = DEFAULT_PAUSE,
        stop_hotkey: str = DEFAULT_STOP,
    ) -> None:
        self.runtime = runtime
        self.cache = cache
        self.user_id = user_id
        self.hotkeys = hotkeys
        self.pause_hotkey = pause_hotkey
        self.stop_hotkey = stop_hotkey
        self.current: AttendedRun | None = None
        self.last: deque[AttendedRun] = deque(maxlen=KEEP_RUNS)
        self.problems: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, runtime: AgentRuntime) -> list[AttendedRun]:
        """Run on `runtime` from now on (this machine was just enrolled) and go on with the runs an
        earlier process left unfinished in its outbox.

        Returns:
            The runs resumed now.
        """
        self.runtime = runtime
        runs = self.resume_unfinished()
        self._tell()
        return runs

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(controller)` after each change (a run started, paused, resumed, ended)."""
        self._listeners.append(listener)

    def bind(self) -> dict[str, str]:
        """Register the flows' hotkeys and the pause and stop hotkeys, on the running loop.

        Returns:
            The problems, by workflow id or by `pause` / `stop` (a conflict, an invalid combination).
        """
        self._loop = asyncio.get_running_loop()
        self.problems = {}
        if self.hotkeys is None:
            return self.problems
        self.problems = self.hotkeys.register_flows(self.cache.all(), self._from_thread(self._hotkey_run))
        for purpose, combination, action in (
            ("pause", self.pause_hotkey, self.toggle_pause),
            ("stop", self.stop_hotkey, self.stop),
        ):
            try:
                self.hotkeys.register(combination, purpose, self._from_thread(_ignoring_hotkey(action)))
            except Exception as exc:  # a conflict or an invalid combination: said, not fatal
                self.problems[purpose] = str(exc)
        for where, problem in self.problems.items():
            log.warning("hotkey of %s not available: %s", where, problem)
        return self.problems

    def _from_thread(self, action: Callable[[Hotkey], Any]) -> Callable[[Hotkey], None]:
        loop = self._loop
        assert loop is not None

        def call(hotkey: Hotkey) -> None:
            loop.call_soon_threadsafe(action, hotkey)

        return call

    def _hotkey_run(self, hotkey: Hotkey) -> None:
        assert self.hotkeys is not None
        flow = self.hotkeys.flow_of(hotkey, self.cache.all())
        if flow is None:
            return
        try:
            self.run(flow, trigger={"type": "hotkey", "hotkey": str(hotkey)})
        except AttendedRunError as exc:
            log.warning("%s", exc)

    def run(self, flow: CachedFlow, *, inputs: dict[str, Any] | None = None, trigger: dict[str, Any]) -> AttendedRun:
        """Start a run now (on the loop's thread).

        Raises:
            AttendedRunError: another attended run is going on, or the run could not start.
        """
        if self.runtime is None:
            raise AttendedRunError(NOT_ENROLLED)
        if self.current is not None and self.current.running:
            raise AttendedRunError(f"'{self.current.flow.name}' is still running; stop it first")
        run = start_attended(self.runtime, flow, inputs=inputs, trigger=trigger, user_id=self.user_id)
        self.current = run
        self.last.appendleft(run)
        task = self.runtime.jobs.tasks.get(run.execution_id)
        if task is not None:
            task.add_done_callback(lambda _t: self._tell())
        self._tell()
        return run

    def resume_unfinished(self) -> list[AttendedRun]:
        """Go on with the attended runs an earlier process left unfinished (a crash, a `kill -9`)."""
        runtime = self.runtime
        if runtime is None:
            return []
        runs = resume_attended(runtime)
        for run in runs:
            self.last.appendleft(run)
            self.current = run
            task = runtime.jobs.tasks.get(run.execution_id)
            if task is not None:
                task.add_done_callback(lambda _t: self._tell())
        if runs:
            self._tell()
        return runs

    def toggle_pause(self) -> None:
        """Pause the current run, or resume it when paused."""
        run = self.current
        if run is None or not run.running:
            return
        if run.paused:
            run.resume()
        else:
            run.pause()
        self._tell()

    def stop(self) -> None:
        """Stop the current run (it ends cancelled)."""
        run = self.current
        if run is not None and run.running:
            run.stop()
            self._tell()

    def close(self) -> None:
        """Release the hotkeys."""
        if self.hotkeys is not None:
            self.hotkeys.close()

    def _tell(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a broken listener must not break the controls
                log.exception("an attended-run listener failed")
