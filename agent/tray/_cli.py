"""`rpa tray`: the attended robot in the system tray, with the agent runtime in the same process.

One qasync loop runs Qt and asyncio together: the runtime's connection, the attended runs, the
hotkeys' callbacks (handed over from their thread) and the dialogs all meet on it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from agent.attended.hotkeys import Hotkeys


def tray(
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Read the agent key from this file (mode 0600) instead of the OS keyring."),
    ] = None,
    url: Annotated[str | None, typer.Option(help="The orchestrator's URL; default: the one enrolled with.")] = None,
    user_id: Annotated[
        str | None,
        typer.Option("--user-id", envvar="RPA_TRAY_USER", help="The user the attended runs are reported for."),
    ] = None,
    no_hotkeys: Annotated[bool, typer.Option("--no-hotkeys", help="Register no global hotkeys.")] = False,
) -> None:
    """The attended robot in the system tray: run cached flows by menu or hotkey, offline too."""
    import asyncio
    import logging

    import qasync
    from PySide6.QtWidgets import QApplication

    from agent.attended import AttendedController, FlowCache, register_host
    from agent.keystore import KeystoreError, agent_home
    from agent.runtime import AgentRuntime
    from agent.tray._app import TrayApp
    from agent.tray._dialogs import QtDialogHost
    from agent.tray._settings import SettingsError, load_settings
    from agent.tray._startup import runtime_factory
    from shared.client import ApiClient

    os.umask(0o077)
    try:
        settings = load_settings(agent_home())
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build = runtime_factory(key_file=key_file, url=url or settings.url)
    runtime: AgentRuntime | None = None
    not_enrolled: str | None = None
    try:
        runtime = build()
    except KeystoreError as exc:  # not enrolled yet: the tray starts anyway and offers Sign in / Enrol
        not_enrolled = str(exc)
        logging.getLogger("rpa.agent.tray").warning("starting not enrolled: %s", exc)
    found = QApplication.instance()
    application = found if isinstance(found, QApplication) else QApplication([])
    application.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(application)
    asyncio.set_event_loop(loop)
    controller = AttendedController(
        None,
        FlowCache(agent_home() / "flows"),
        user_id=user_id or settings.user_id,
        hotkeys=_hotkeys(no_hotkeys),
        pause_hotkey=settings.pause_hotkey,
        stop_hotkey=settings.stop_hotkey,
    )
    register_host(QtDialogHost())

    with loop:
        app = TrayApp(
            None,
            controller,
            settings=settings,
            settings_folder=agent_home(),
            on_quit=application.quit,
            flows_client=ApiClient.from_session,  # `rpa login`'s session: the flows this user may run
            runtime_factory=build,
            not_enrolled=not_enrolled,
        )

        async def start() -> None:
            controller.bind()
            if runtime is not None:
                app.go_online(runtime)  # resumes a run this tray was driving when it died

        loop.create_task(start())
        try:
            loop.run_forever()
        finally:
            app.close()
            controller.close()
            if app.runtime is not None:
                loop.run_until_complete(app.runtime.stop())


def _hotkeys(disabled: bool) -> Hotkeys | None:
    """The global hotkeys, or None when disabled or this desktop has none (said in the log)."""
    import logging

    from agent.attended.hotkeys import Hotkeys, HotkeyUnavailable

    if disabled:
        return None
    try:
        return Hotkeys()
    except HotkeyUnavailable as exc:
        logging.getLogger("rpa.agent.tray").warning("no global hotkeys: %s", exc)
        return None
