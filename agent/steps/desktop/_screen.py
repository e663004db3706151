"""The display: pyautogui loaded lazily, screen grabs, and the screen's size.

pyautogui reads `DISPLAY` when imported (a `KeyError` without one), so it is imported here on
first use, after `require_display()`. Grabs use Pillow's XCB grab directly (about six times faster
than scrot, which pyscreeze may pick) and only the region asked for.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

from agent.steps.desktop._errors import map_pyautogui_errors, require_display
from shared.errors import MissingDependency

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Box", "grab", "pyautogui", "screen_box"]

Box = tuple[int, int, int, int]
"""(left, top, width, height) in screen pixels."""

_lock = threading.Lock()


def _close_import_leftovers() -> None:
    # pyscreeze keeps its second `which` Popen, pipes open, in a module global: close them, or
    # they warn (ResourceWarning) whenever the interpreter collects them.
    which = getattr(sys.modules.get("pyscreeze"), "whichProc", None)
    for pipe in (getattr(which, "stdout", None), getattr(which, "stderr", None)):
        if pipe is not None:
            pipe.close()


def pyautogui() -> Any:
    """The pyautogui module, configured for unattended robots.

    `FAILSAFE` is off (on a virtual display the pointer may rest in a corner, which would abort
    every action) and `PAUSE` is 0 (steps wait where they mean to; the library's default 0.1 s
    after every call made a 50-key text take 5 s).

    Raises:
        StepError: no display; MissingDependency: the desktop extra is not installed.
    """
    require_display()
    with _lock, map_pyautogui_errors():
        try:
            with warnings.catch_warnings():
                # pyautogui 0.9.54's X11 module has invalid escape sequences: compiling it warns
                # (DeprecationWarning on 3.11, SyntaxWarning from 3.12), the library's business.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", SyntaxWarning)
                # pyscreeze runs `which` twice at import and drops the first Popen with its pipes
                # open: that one warns (ResourceWarning) right away.
                warnings.simplefilter("ignore", ResourceWarning)
                fresh = "pyautogui" not in sys.modules
                module: Any = importlib.import_module("pyautogui")
                if fresh:
                    _close_import_leftovers()
        except ImportError:
            raise MissingDependency("pyautogui", extra="desktop") from None
        module.FAILSAFE = False
        module.PAUSE = 0
        return module


def grab(box: Box | None = None) -> Image.Image:
    """An RGB image of the screen, or of `box` only."""
    require_display()
    try:
        from PIL import ImageGrab
    except ImportError:
        raise MissingDependency("Pillow", extra="desktop") from None
    with map_pyautogui_errors():
        bbox = None if box is None else (box[0], box[1], box[0] + box[2], box[1] + box[3])
        return ImageGrab.grab(bbox=bbox, xdisplay=None).convert("RGB")


def screen_box() -> Box:
    """The whole screen as a box.

    On Linux it asks the X server on a connection of its own: pyautogui's single module-wide
    python-xlib connection is not thread-safe, and the looking steps (locate, wait, screenshot)
    hold no lock, so they may run while another branch clicks through pyautogui.
    """
    require_display()
    if sys.platform.startswith("linux"):
        try:
            xdisplay = importlib.import_module("Xlib.display")
        except ImportError:
            raise MissingDependency("python-xlib", extra="desktop") from None
        with map_pyautogui_errors():
            connection = xdisplay.Display()
            try:
                screen = connection.screen()
                return (0, 0, int(screen.width_in_pixels), int(screen.height_in_pixels))
            finally:
                connection.close()
    with map_pyautogui_errors():
        width, height = pyautogui().size()
        return (0, 0, int(width), int(height))
