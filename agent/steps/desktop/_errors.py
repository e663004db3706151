"""Where the desktop libraries' errors become `StepError`s (one boundary, like httpx's
`map_httpcore_exceptions`), and the display check every desktop step makes first.

    StepError
    ├── kind "no_display"         no X display to drive; not retryable (the fix is on the machine)
    ├── kind "element_not_found"  a target was not on screen in time; retryable (the screen changes)
    ├── kind "window_not_found"   no window title matched; retryable
    ├── kind "validation"         a bad target, image or key name; not retryable
    ├── kind "unsupported"        not available on this operating system; not retryable
    └── kind "desktop"            the display or a tool failed; retryable
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from shared.errors import MissingDependency, StepError

__all__ = ["map_pyautogui_errors", "require_display"]

NO_DISPLAY_FIX = (
    "no display to drive: set DISPLAY to a running X server, for example start "
    "`Xvfb :99 -screen 0 1280x800x24 -nolisten tcp &` and `export DISPLAY=:99` before the agent"
)


def require_display() -> None:
    """Fail with the fix when there is no display (Linux without `DISPLAY`).

    Raises:
        StepError: kind `no_display`, not retryable.
    """
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise StepError(NO_DISPLAY_FIX, kind="no_display", retryable=False)


def _translate(exc: Exception) -> StepError:
    name = type(exc).__name__
    text = str(exc)
    if name == "DisplayConnectionError" or "Can't connect to display" in text or "DISPLAY" in text:
        return StepError(
            f"cannot connect to display {os.environ.get('DISPLAY', '')!r} ({text}); {NO_DISPLAY_FIX}",
            kind="no_display",
            retryable=False,
        )
    if name == "FailSafeException":
        return StepError("stopped by the pointer fail-safe (the mouse was moved to a screen corner)", kind="cancelled")
    if name == "PyperclipException":
        return MissingDependency("a clipboard tool (xclip)", system_package="xclip")
    if name in ("error", "CvException") and type(exc).__module__.startswith("cv2"):
        return StepError(f"image matching failed: {text}", kind="validation", retryable=False)
    return StepError(f"desktop action failed: {name}: {text}", kind="desktop", retryable=True)


@contextmanager
def map_pyautogui_errors() -> Iterator[None]:
    """Translate pyautogui, python-xlib, pyperclip and OpenCV errors into `StepError`s.

    `StepError`s raised inside pass through unchanged.
    """
    try:
        yield
    except StepError:
        raise
    except Exception as exc:  # the family's one boundary: nothing foreign reaches the engine
        raise _translate(exc) from exc
