"""Starting the studio: the Qt application, the theme, the window, and the qasync event loop
(the debugger runs the engine on this same loop, so the window stays responsive)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from studio.app._theme import apply_theme
from studio.app._window import APP_NAME, StudioWindow


def application() -> QApplication:
    """The running QApplication, created (high-DPI ready) when there is none."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # Fractional scale factors (150 %) as they are, not rounded to 100 % or 200 %.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("rpa-suite")
    return app


def run_studio(
    file: Path | None = None,
    *,
    config: Path | None = None,
    theme: str | None = None,
    quit_after: float | None = None,
) -> int:
    """Open the studio window and run until it closes.

    Args:
        file: a flow to open.
        config: the settings folder (the studio's config folder by default).
        theme: `system`, `light` or `dark` (the saved choice, else `system`).
        quit_after: close the window after this many seconds (smoke tests).

    Returns:
        The process exit code.
    """
    import qasync

    app = application()
    window = StudioWindow(config=config)
    apply_theme(app, theme or str(window.settings.get("theme", "system")))
    window.show()
    restored = window.offer_recovery()
    if file is not None and not restored:
        window.open_file(file)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0
