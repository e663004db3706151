"""The tray's settings: the JSON file (0600), the Settings dialog (hotkeys checked with the
parser, conflicts said, a bad URL refused), applied at once from the menu, and start at login
as an XDG autostart entry under `XDG_CONFIG_HOME`."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog

from agent.attended import AttendedController, FlowCache
from agent.tray import TrayApp
from agent.tray._autostart import autostart_enabled, autostart_path, desktop_entry, set_autostart
from agent.tray._settings import SettingsError, TraySettings, check_hotkeys, load_settings, save_settings
from tests.agent.attended.conftest import ReportingOrchestrator, make_runtime
from tests.agent.memory_orchestrator import wait_flow


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def test_settings_round_trip_in_a_private_file(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == TraySettings()  # no file yet: the defaults
    chosen = TraySettings(url="https://rpa.example", notifications=False, user_id="u-1", favourites=["w1"])
    path = save_settings(tmp_path / "agent", chosen)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings(tmp_path / "agent") == chosen
    path.write_text(json.dumps({"notifications": "sometimes"}))
    with pytest.raises(SettingsError, match=r"tray-settings\.json: notifications: Input should be a valid boolean"):
        load_settings(tmp_path / "agent")


def test_hotkeys_are_parsed_and_conflicts_named() -> None:
    assert check_hotkeys("Ctrl+Alt+Shift+P", "Ctrl+Alt+Shift+S") == {}
    same = check_hotkeys("Ctrl+Alt+Shift+P", "shift+alt+ctrl+p")
    assert same == {"stop": "Ctrl+Alt+Shift+P is already the pause hotkey"}
    problems = check_hotkeys("Ctrl+Alt+Shift+M", "Ctrl+Hyper+S", {"Month end": "Ctrl+Alt+Shift+M"})
    assert problems["pause"] == "Ctrl+Alt+Shift+M is already the hotkey of flow 'Month end'"
    assert "Hyper" in problems["stop"]


def test_autostart_entry_is_written_and_removed_under_xdg_config_home(config_home: Path) -> None:
    path = set_autostart(True, ["/opt/rpa/bin/rpa", "tray"])
    assert path == config_home / "autostart" / "rpa-tray.desktop" == autostart_path()
    text = path.read_text()
    assert "Exec=/opt/rpa/bin/rpa tray\n" in text
    assert text.startswith("[Desktop Entry]\nType=Application\n")
    assert autostart_enabled()
    set_autostart(False)
    assert not path.exists()
    set_autostart(False)  # removing twice is fine
    assert desktop_entry(["/a b/rpa", "tray"]).count("Exec='/a b/rpa' tray") == 1


async def test_the_settings_dialog_checks_and_applies_at_once(qtbot: Any, tmp_path: Path, config_home: Path) -> None:
    cache = FlowCache(tmp_path / "flows")
    cache.put("0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c00", 1, wait_flow(1) | {"settings": {"hotkey": "Ctrl+Alt+Shift+M"}})
    controller = AttendedController(make_runtime(tmp_path, ReportingOrchestrator()), cache, user_id=None)
    folder = tmp_path / "agent-home"
    app = TrayApp(controller.runtime, controller, settings_folder=folder, on_quit=lambda: None)
    try:
        texts = [a.text() for a in app.menu.actions() if a.text()]
        assert texts[-2:] == ["Settings…", "Quit"]
        next(a for a in app.menu.actions() if a.text() == "Settings…").trigger()
        dialog = app.settings_dialog
        assert dialog is not None
        assert dialog.isVisible()
        dialog.pause.setText("Ctrl+Alt+Shift+M")
        dialog.url.setText("rpa.example")
        dialog._accept()  # stays open and says why
        assert dialog.result() != QDialog.DialogCode.Accepted
        assert dialog.problem.text().splitlines() == [
            "orchestrator URL: 'rpa.example' is not an http:// or https:// address",
            "pause hotkey: Ctrl+Alt+Shift+M is already the hotkey of flow 'Waits'",
        ]
        dialog.pause.setText("Ctrl+Alt+Shift+F9")
        dialog.url.setText("https://rpa.example")
        dialog.user_id.setText("u-42")
        dialog.notifications.setChecked(False)
        dialog.start_at_login.setChecked(True)
        dialog._accept()
        assert dialog.result() == QDialog.DialogCode.Accepted
        assert app.settings.notifications is False
        assert controller.user_id == "u-42"
        assert controller.pause_hotkey == "Ctrl+Alt+Shift+F9"
        assert app.banner.pause_hotkey == "Ctrl+Alt+Shift+F9"
        assert load_settings(folder) == app.settings
        assert load_settings(folder).url == "https://rpa.example"
        assert autostart_enabled()
        app.open_settings().start_at_login.setChecked(False)  # shows what was saved; unticked
        assert app.settings_dialog is not None
        assert app.settings_dialog.pause.text() == "Ctrl+Alt+Shift+F9"
        app.settings_dialog._accept()
        assert not autostart_enabled()
    finally:
        app.close()
        await controller.runtime.stop()


def test_screenshot_of_the_settings_dialog(qtbot: Any) -> None:
    from agent.tray._settings_dialog import SettingsDialog

    docs = Path(__file__).resolve().parents[3] / "docs" / "tray"
    docs.mkdir(parents=True, exist_ok=True)
    dialog = SettingsDialog(TraySettings(url="https://rpa.example", user_id="u-42"), {"Month end": "Ctrl+Alt+Shift+M"})
    qtbot.addWidget(dialog)
    dialog.stop.setText("Ctrl+Alt+Shift+M")
    dialog._accept()
    dialog.adjustSize()
    assert dialog.grab().save(str(docs / "settings.png"))
