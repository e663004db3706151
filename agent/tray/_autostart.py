"""Start at login, Linux desktops: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/rpa-tray.desktop`
(`~/.config/autostart/` when unset). Windows and macOS are described in docs/tray.md, not done here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ENTRY_NAME = "rpa-tray.desktop"


def autostart_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the autostart entry lives (XDG Base Directory: `XDG_CONFIG_HOME`, else `~/.config`)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "autostart" / ENTRY_NAME


def tray_command() -> list[str]:
    """The command that starts the tray: the installed `rpa` script, else this Python's `-m cli`."""
    found = shutil.which("rpa") or str(Path(sys.executable).with_name("rpa"))
    return [found, "tray"] if Path(found).exists() else [sys.executable, "-m", "cli", "tray"]


def desktop_entry(command: Sequence[str]) -> str:
    """The `.desktop` text (Desktop Entry Specification 1.5) that runs `command` at login."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.5\n"
        "Name=RPA tray\n"
        "Comment=The attended robot: run flows by menu or hotkey\n"
        f"Exec={shlex.join(command)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def set_autostart(enabled: bool, command: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Write (enabled) or remove the autostart entry.

    Returns:
        The entry's path (existing or not).
    """
    path = autostart_path(env)
    if not enabled:
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(desktop_entry(list(command) if command else tray_command()), encoding="utf-8")
    return path


def autostart_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether the autostart entry exists."""
    return autostart_path(env).is_file()
