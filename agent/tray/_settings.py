"""The tray's own settings: a small JSON file in the agent's folder (mode 0600), Qt-free.

Kept apart from the enrolment (`agent.keystore`): these are the person's choices (notifications,
hotkeys, start at login), changed from the Settings dialog and applied without a restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.attended.hotkeys import Hotkey, HotkeyError, format_hotkey, parse_hotkey

SETTINGS_FILE = "tray-settings.json"


class SettingsError(Exception):
    """The settings file cannot be read, or a value is invalid (the message says which)."""


class TraySettings(BaseModel):
    """What the person chose for the tray."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = Field(default=None, description="The orchestrator's URL; None: the one enrolled with.")
    notifications: bool = Field(default=True, description="Desktop notifications on run start, finish and failure.")
    start_at_login: bool = Field(default=False, description="Start the tray when the user logs in.")
    pause_hotkey: str = Field(default="Ctrl+Alt+Shift+P", description="Pauses or resumes the current run.")
    stop_hotkey: str = Field(default="Ctrl+Alt+Shift+S", description="Stops the current run.")
    user_id: str | None = Field(default=None, description="The user the attended runs are reported for.")
    organisation: str | None = Field(
        default=None, description="The organisation (its slug) signed in to last; None: the account's first."
    )
    favourites: list[str] = Field(default_factory=list, description="Workflow ids pinned to the top of the menu.")


def check_hotkeys(pause: str, stop: str, flows: Mapping[str, str] | None = None) -> dict[str, str]:
    """Problems with the pause and stop hotkeys, by `pause` / `stop`.

    Args:
        pause: the pause/resume combination, as typed.
        stop: the stop combination, as typed.
        flows: the cached flows' hotkeys, flow name -> combination (a clash with one is a conflict).

    Returns:
        An unparsable combination, the two being the same, or one a flow already uses, in words.
    """
    problems: dict[str, str] = {}
    taken: dict[Hotkey, str] = {}
    for name, text in (flows or {}).items():
        try:
            taken[parse_hotkey(text)] = f"the hotkey of flow '{name}'"
        except HotkeyError:
            continue  # the flow's own problem, said in the menu
    for purpose, text in (("pause", pause), ("stop", stop)):
        try:
            hotkey = parse_hotkey(text)
        except HotkeyError as exc:
            problems[purpose] = str(exc)
            continue
        if hotkey in taken:
            problems[purpose] = f"{format_hotkey(hotkey)} is already {taken[hotkey]}"
        taken.setdefault(hotkey, f"the {purpose} hotkey")
    return problems


def load_settings(folder: Path) -> TraySettings:
    """The settings kept in `folder` (defaults when there is no file yet).

    Raises:
        SettingsError: the file is not valid JSON or holds an invalid value.
    """
    path = folder / SETTINGS_FILE
    if not path.exists():
        return TraySettings()
    try:
        return TraySettings.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        said = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"{path}: {said}") from None
    except ValueError as exc:
        raise SettingsError(f"{path}: not valid JSON ({exc})") from None


def save_settings(folder: Path, settings: TraySettings) -> Path:
    """Write the settings to `folder` (mode 0600, replaced atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SETTINGS_FILE
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(settings.model_dump_json(indent=2))
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
