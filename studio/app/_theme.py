"""Light and dark themes: the Fusion style with a palette of each; `system` follows the desktop's
colour scheme (`QStyleHints.colorScheme()`)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

_DARK = {
    QPalette.ColorRole.Window: "#2b2d31",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1e1f22",
    QPalette.ColorRole.AlternateBase: "#2b2d31",
    QPalette.ColorRole.ToolTipBase: "#3c3f45",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#35373c",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Highlight: "#3d7bd9",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6aa8ff",
    QPalette.ColorRole.PlaceholderText: "#8a8d93",
}


def resolve(theme: str) -> str:
    """`light` or `dark`: `system` becomes what the desktop uses."""
    if theme in ("light", "dark"):
        return theme
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def apply_theme(app: QApplication, theme: str = "system") -> str:
    """Apply a theme (`system`, `light`, `dark`) to the whole application; returns the one applied.

    Raises:
        ValueError: an unknown theme.
    """
    if theme not in THEMES:
        raise ValueError(f"unknown theme '{theme}'; use one of: {', '.join(THEMES)}")
    app.setStyle("Fusion")
    chosen = resolve(theme)
    palette = app.style().standardPalette()
    if chosen == "dark":
        for role, colour in _DARK.items():
            palette.setColor(role, QColor(colour))
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7278"))
    app.setPalette(palette)
    return chosen
