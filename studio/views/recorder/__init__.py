"""The browser recorder and element picker views, driving `python -m agent.recorder` as a process."""

from studio.views.recorder._pick import PickController, param_path
from studio.views.recorder._process import RecorderProcess
from studio.views.recorder._recording import Recording, describe, start_url
from studio.views.recorder._view import RecorderView, recorder_dock

__all__ = [
    "PickController",
    "RecorderProcess",
    "RecorderView",
    "Recording",
    "describe",
    "param_path",
    "recorder_dock",
    "start_url",
]
