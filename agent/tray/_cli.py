"""`rpa tray`: the attended robot in the system tray, with the agent runtime in the same process.

One qasync loop runs Qt and asyncio together: the runtime's connection, the attended runs, the
hotkeys' callbacks (handed over from their thread) and the dialogs all meet on it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


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
    from agent.attended.hotkeys import Hotkeys, HotkeyUnavailable
    from agent.capabilities import detect_capabilities
    from agent.cli import agent_version
    from agent.keystore import KeystoreError, agent_home, load_identity
    from agent.runtime import AgentConfig, AgentRuntime
    from agent.tray._app import TrayApp
    from agent.tray._dialogs import QtDialogHost
    from agent.tray._settings import SettingsError, load_settings
    from shared.client import ApiClient

    os.umask(0o077)
    try:
        identity, key = load_identity(key_file=key_file)
    except KeystoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        settings = load_settings(agent_home())
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = AgentConfig(
        url=url or settings.url or identity.url,
        key=key,
        name=identity.name,
        home=agent_home(),
        labels=list(identity.labels),
        capabilities=detect_capabilities(),
        version=agent_version(),
        key_source=lambda: load_identity(key_file=key_file)[1],
    )
    found = QApplication.instance()
    application = found if isinstance(found, QApplication) else QApplication([])
    application.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(application)
    asyncio.set_event_loop(loop)
    runtime = AgentRuntime(config)
    hotkeys = None
    if not no_hotkeys:
        try:
            hotkeys = Hotkeys()
        except HotkeyUnavailable as exc:
            logging.getLogger("rpa.agent.tray").warning("no global hotkeys: %s", exc)
    controller = AttendedController(
        runtime,
        FlowCache(config.home / "flows"),
        user_id=user_id or settings.user_id,
        hotkeys=hotkeys,
        pause_hotkey=settings.pause_hotkey,
        stop_hotkey=settings.stop_hotkey,
    )
    register_host(QtDialogHost())

    async def start() -> None:
        controller.bind()
        controller.resume_unfinished()  # a run this tray was driving when it died goes on
        runtime.start()

    with loop:
        app = TrayApp(
            runtime,
            controller,
            settings=settings,
            settings_folder=agent_home(),
            on_quit=application.quit,
            flows_client=ApiClient.from_session,  # `rpa login`'s session: the flows this user may run
        )
        loop.create_task(start())
        try:
            loop.run_forever()
        finally:
            app.close()
            controller.close()
            loop.run_until_complete(runtime.stop())
