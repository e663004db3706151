"""The tray app (PySide6 + qasync): the only place Qt lives in the agent."""

from agent.tray._app import DrivingBanner, TrayApp, state_icon
from agent.tray._forms import RunForm
from agent.tray._state import TrayState, tray_state

__all__ = ["DrivingBanner", "RunForm", "TrayApp", "TrayState", "state_icon", "tray_state"]
