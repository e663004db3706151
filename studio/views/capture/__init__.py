"""Desktop region capture: an overlay to drag an image target on, saved as a flow asset."""

from studio.views.capture._analysis import Word, count_matches, nearest_anchor, read_words
from studio.views.capture._capture import CaptureResult, RegionCapture, grab_screen, to_array
from studio.views.capture._desktop import DesktopRecorder
from studio.views.capture._desktop_nodes import DesktopActions
from studio.views.capture._overlay import CaptureOverlay

__all__ = [
    "CaptureOverlay",
    "CaptureResult",
    "DesktopActions",
    "DesktopRecorder",
    "RegionCapture",
    "Word",
    "count_matches",
    "grab_screen",
    "nearest_anchor",
    "read_words",
    "to_array",
]
