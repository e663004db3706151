"""What the tray shows, as a plain table: the icon state from the runtime and the current run.

unenrolled this machine has no agent identity yet: Sign in… or Enrol this machine…
offline    not connected to the orchestrator (runs still start, and report later)
connected  connected, nothing running
running    an attended run goes on
paused     the current run holds before its next step
error      the agent has a problem (its outbox cannot be written)
"""

from __future__ import annotations

from typing import Literal

from agent.attended import AttendedController
from agent.runtime import RuntimeState, RuntimeStatus

TrayState = Literal["unenrolled", "offline", "connected", "running", "paused", "error"]

COLOURS: dict[str, str] = {
    "unenrolled": "#c4c7cc",
    "offline": "#8a8f98",
    "connected": "#2e9d4f",
    "running": "#1f6fd1",
    "paused": "#e0a400",
    "error": "#d13a2f",
}
LABELS: dict[str, str] = {
    "unenrolled": "Not enrolled: sign in or enrol this machine to run flows",
    "offline": "Offline: runs start here and are reported later",
    "connected": "Connected",
    "running": "Running",
    "paused": "Paused",
    "error": "Problem",
}


def tray_state(status: RuntimeStatus | None, controller: AttendedController) -> TrayState:
    """The icon state: no runtime yet (not enrolled), a problem, the current run, the connection."""
    if status is None:
        return "unenrolled"
    if status.problem is not None:
        return "error"
    run = controller.current
    if run is not None and run.running:
        return "paused" if run.paused else "running"
    return "connected" if status.state is RuntimeState.CONNECTED else "offline"
