"""Attended runs: flows a person starts on this machine (hotkey, tray), run at once, offline too.

Qt-free: the tray (`agent/tray/`) and the hotkeys (`agent/attended/hotkeys/`) drive these.
"""

from agent.attended._cache import CachedFlow, FlowCache
from agent.attended._pause import JournaledPauseGate
from agent.attended._runs import AttendedRun, AttendedRunError, start_attended

__all__ = [
    "AttendedRun",
    "AttendedRunError",
    "CachedFlow",
    "FlowCache",
    "JournaledPauseGate",
    "start_attended",
]
