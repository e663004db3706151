"""The tray app (PySide6 + qasync): the only place Qt lives in the agent."""

from agent.tray._app import DrivingBanner, TrayApp, state_icon
from agent.tray._autostart import autostart_enabled, autostart_path, set_autostart
from agent.tray._enrol import EnrolDialog, EnrolmentError, enrol, enrol_with_session
from agent.tray._forms import RunForm
from agent.tray._notify import Notice, RunDetails, RunNotifier, RunOutcome, run_outcome
from agent.tray._settings import SettingsError, TraySettings, check_hotkeys, load_settings, save_settings
from agent.tray._settings_dialog import SettingsDialog
from agent.tray._signin import SignInDialog
from agent.tray._startup import RuntimeFactory, build_runtime, runtime_factory
from agent.tray._state import TrayState, tray_state
from agent.tray._sync import SyncResult, sync_flows

__all__ = [
    "DrivingBanner",
    "EnrolDialog",
    "EnrolmentError",
    "Notice",
    "RunDetails",
    "RunForm",
    "RunNotifier",
    "RunOutcome",
    "RuntimeFactory",
    "SettingsDialog",
    "SettingsError",
    "SignInDialog",
    "SyncResult",
    "TrayApp",
    "TraySettings",
    "TrayState",
    "autostart_enabled",
    "autostart_path",
    "build_runtime",
    "check_hotkeys",
    "enrol",
    "enrol_with_session",
    "load_settings",
    "run_outcome",
    "runtime_factory",
    "save_settings",
    "set_autostart",
    "state_icon",
    "sync_flows",
    "tray_state",
]
