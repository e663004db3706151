"""Attended runs: flows a person starts on this machine (hotkey, tray), run at once, offline too.

Qt-free: the tray (`agent/tray/`) and the hotkeys (`agent/attended/hotkeys/`) drive these.
"""

from agent.attended._cache import CachedFlow, FlowCache
from agent.attended._controller import AttendedController
from agent.attended._dialogs import (
    DialogCancelled,
    DialogHost,
    DialogRequest,
    FormField,
    check_answers,
    current_host,
    register_host,
    unregister_host,
)
from agent.attended._pause import JournaledPauseGate
from agent.attended._runs import AttendedRun, AttendedRunError, resume_attended, start_attended

__all__ = [
    "AttendedController",
    "AttendedRun",
    "AttendedRunError",
    "CachedFlow",
    "DialogCancelled",
    "DialogHost",
    "DialogRequest",
    "FlowCache",
    "FormField",
    "JournaledPauseGate",
    "check_answers",
    "current_host",
    "register_host",
    "resume_attended",
    "start_attended",
    "unregister_host",
]
