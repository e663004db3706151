"""The tray: an icon with its states and menu, a fallback window when no tray exists, and the
"robot is driving" banner while a run drives the machine.

The tray follows the runtime's status and the attended controller (it owns no state of its own):
each change rebuilds the menu and the icon. The runtime runs on the same event loop (qasync).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QSystemTrayIcon, QVBoxLayout, QWidget

from agent.attended import AttendedController, AttendedRunError, CachedFlow
from agent.keystore import KeystoreError
from agent.runtime import AgentRuntime, RuntimeState, RuntimeStatus
from agent.tray._autostart import set_autostart
from agent.tray._enrol import EnrolDialog, EnrolmentError, enrol_with_session
from agent.tray._flows_menu import RunMenu, recent_flows
from agent.tray._forms import RunForm
from agent.tray._notify import Notice, RunDetails, RunNotifier, run_outcome
from agent.tray._settings import TraySettings, save_settings
from agent.tray._settings_dialog import SettingsDialog
from agent.tray._signin import SignInDialog
from agent.tray._startup import RuntimeFactory
from agent.tray._state import COLOURS, LABELS, TrayState, tray_state
from agent.tray._sync import SyncResult, sync_flows
from shared.client import ApiClient, ApiError


def state_icon(state: TrayState, size: int = 64) -> QIcon:
    """A round icon in the state's colour, with an R (the robot) on it."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(COLOURS[state]))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(2, 2, size - 4, size - 4)
    painter.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.55))
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "R")
    painter.end()
    return QIcon(pixmap)


class DrivingBanner(QWidget):
    """A small always-on-top banner: the robot drives the mouse and keyboard; how to pause or stop."""

    def __init__(self, pause_hotkey: str, stop_hotkey: str) -> None:
        super().__init__(
            None,
            Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool,
        )
        self.setObjectName("driving-banner")
        self.label = QLabel(self)
        self.label.setStyleSheet("background: #1f6fd1; color: white; padding: 6px 12px; font-weight: bold")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        self.pause_hotkey, self.stop_hotkey = pause_hotkey, stop_hotkey

    def show_for(self, flow: str, paused: bool) -> None:
        """Say what runs, and the hotkeys that pause (or resume) and stop it."""
        what = "paused" if paused else "is driving"
        verb = "resume" if paused else "pause"
        self.label.setText(f"Robot {what}: {flow}  ·  {self.pause_hotkey} to {verb}  ·  {self.stop_hotkey} to stop")
        self.adjustSize()
        self.show()


class TrayApp:
    """The tray icon (or its fallback window), its menu and the banner.

    Args:
        runtime: the agent runtime on this loop; None on a machine not enrolled yet (the tray
            shows that state and `go_online` starts one once Sign in… or Enrol… stored an identity).
        controller: the attended controls (runs, hotkeys).
        use_tray: None: a tray icon when the desktop has a tray, else the fallback window.
        settings: the person's choices (notifications on or off, ...); defaults when None.
        settings_folder: where Settings… saves them (None: not saved, e.g. in tests).
        on_quit: the menu's Quit (None: no Quit entry).
        flows_client: the signed-in user's API client, to fetch the flows on connect, every
            `refresh_minutes` and from Refresh flows (None: the cache is filled elsewhere).
        refresh_minutes: how often the flows are fetched again.
        runtime_factory: builds the runtime of the identity just enrolled (None: enrolling from
            the tray takes effect at the next start).
        not_enrolled: why there is no runtime (shown in the menu while there is none).
    """

    def __init__(
        self,
        runtime: AgentRuntime | None,
        controller: AttendedController,
        *,
        use_tray: bool | None = None,
        settings: TraySettings | None = None,
        settings_folder: Path | None = None,
        on_quit: Callable[[], object] | None = None,
        flows_client: Callable[[], ApiClient] | None = None,
        refresh_minutes: float = 15,
        runtime_factory: RuntimeFactory | None = None,
        not_enrolled: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.runtime_factory = runtime_factory
        self.not_enrolled = not_enrolled
        self.going_online: asyncio.Task[bool] | None = None
        self.controller = controller
        self.settings = settings or TraySettings()
        self.last_notice: Notice | None = None
        self.details: RunDetails | None = None
        self.settings_folder = settings_folder
        self.settings_dialog: SettingsDialog | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self.enrol_dialog: EnrolDialog | None = None
        self.on_quit = on_quit
        self.flows_client = flows_client
        self.sync_problem: str | None = None
        self.syncing: asyncio.Task[SyncResult | None] | None = None
        run_menu = QMenu("Run")
        run_menu.setObjectName("menu-run")
        refresh = self.start_flow_refresh if flows_client is not None else None
        self.run_menu = RunMenu(run_menu, self.run_with_form, self.toggle_favourite, refresh)
        self.timer = QTimer()
        self.timer.setInterval(int(refresh_minutes * 60_000))
        self.timer.timeout.connect(self.start_flow_refresh)
        if flows_client is not None:
            self.timer.start()
        self._connected = False
        self.menu = QMenu()
        self.menu.setObjectName("tray-menu")
        has_tray = QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray
        self.icon: QSystemTrayIcon | None = QSystemTrayIcon() if has_tray else None
        self.window: QWidget | None = None if has_tray else self._fallback_window()
        self.banner = DrivingBanner(controller.pause_hotkey, controller.stop_hotkey)
        self.state: TrayState = "offline"
        if self.icon is not None:
            self.icon.setContextMenu(self.menu)
            self.icon.messageClicked.connect(self._notice_clicked)
            self.icon.show()
        if runtime is not None:
            runtime.subscribe(self._on_status)
        controller.subscribe(lambda _c: self.refresh())
        self.notifier = RunNotifier(controller, self.notify, lambda: self.settings.notifications)
        self.refresh()

    def _fallback_window(self) -> QWidget:
        """No tray on this desktop: a small always-on-top window with the same menu."""
        window = QWidget(None, Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool)
        window.setObjectName("agent-window")
        window.setWindowTitle("RPA agent")
        layout = QVBoxLayout(window)
        self.status_label = QLabel()
        self.status_label.setObjectName("status")
        button = QPushButton("Robot ▾")
        button.setMenu(self.menu)
        # Notices land here when there is no tray to show them; a click opens the run's details.
        self.notice_button = QPushButton()
        self.notice_button.setObjectName("notice")
        self.notice_button.setFlat(True)
        self.notice_button.setStyleSheet("text-align: left")
        self.notice_button.hide()
        self.notice_button.clicked.connect(self._notice_clicked)
        layout.addWidget(self.status_label)
        layout.addWidget(self.notice_button)
        layout.addWidget(button)
        window.show()
        return window

    def _on_status(self, status: RuntimeStatus) -> None:
        connected = status.state is RuntimeState.CONNECTED
        if connected and not self._connected:
            self.start_flow_refresh()  # on each (re)connection
        self._connected = connected
        self.refresh()

    def start_flow_refresh(self) -> None:
        """Fetch the flows in the background unless a fetch goes on already."""
        if self.flows_client is None or (self.syncing is not None and not self.syncing.done()):
            return
        self.syncing = asyncio.ensure_future(self.refresh_flows())

    async def refresh_flows(self) -> SyncResult | None:
        """Fetch the published flows into the cache (in a worker thread), then rebuild the menu and
        register the hotkeys again. A failure is shown in the Run menu; the cache stays as it was."""
        if self.flows_client is None:
            return None
        try:
            result = await asyncio.to_thread(sync_flows, self.flows_client(), self.controller.cache)
        except (ApiError, OSError, ValueError) as exc:
            self.sync_problem = str(exc)
            self.refresh()
            return None
        self.sync_problem = None
        if result.fetched or result.removed:
            self._rebind_hotkeys()
        self.refresh()
        return result

    def _rebind_hotkeys(self) -> None:
        hotkeys = self.controller.hotkeys
        if hotkeys is None:
            return
        for hotkey in list(hotkeys.purposes):
            hotkeys.unregister(hotkey)
        self.controller.bind()

    def toggle_favourite(self, workflow_id: str) -> None:
        """Pin a flow to the top of the Run menu, or unpin it (saved with the settings)."""
        favourites = list(self.settings.favourites)
        if workflow_id in favourites:
            favourites.remove(workflow_id)
        else:
            favourites.append(workflow_id)
        self.apply_settings(self.settings.model_copy(update={"favourites": favourites}))

    def refresh(self) -> None:
        """Follow the runtime and the controller: icon, tooltip, menu and banner."""
        self.state = tray_state(self.runtime.status() if self.runtime is not None else None, self.controller)
        text = LABELS[self.state]
        run = self.controller.current
        if run is not None and run.running:
            text += f": {run.flow.name}"
            self.banner.show_for(run.flow.name, run.paused)
        else:
            self.banner.hide()
        if self.icon is not None:
            self.icon.setIcon(state_icon(self.state))
            self.icon.setToolTip(f"RPA agent — {text}")
        if self.window is not None:
            self.window.setWindowIcon(state_icon(self.state))
            self.status_label.setText(text)
        self._build_menu()

    def _build_menu(self) -> None:
        self.menu.clear()
        self.menu.addMenu(self.run_menu.menu)
        cached = self.controller.cache.all()
        recent = recent_flows(list(self.controller.last), cached)
        self.run_menu.fill(cached, self.settings.favourites, recent, self.sync_problem)
        run = self.controller.current
        running = run is not None and run.running
        pause = self.menu.addAction("Resume" if running and run is not None and run.paused else "Pause")
        pause.setEnabled(running)
        pause.triggered.connect(self.controller.toggle_pause)
        stop = self.menu.addAction("Stop")
        stop.setEnabled(running)
        stop.triggered.connect(self.controller.stop)
        last = self.menu.addMenu("Last runs")
        for previous in self.controller.last:
            entry = QAction(f"{previous.flow.name} — {self._outcome(previous)}", last)
            entry.triggered.connect(lambda _checked=False, e=previous.execution_id: self.open_details(e))
            last.addAction(entry)
        self.menu.addSeparator()
        for where, problem in self.controller.problems.items():
            self.menu.addAction(f"Hotkey problem ({where}): {problem}").setEnabled(False)
        if self.runtime is None:
            self.menu.addAction(f"Not enrolled: {self.not_enrolled or 'no agent identity yet'}").setEnabled(False)
        self.menu.addAction("Sign in…").triggered.connect(self.open_sign_in)
        self.menu.addAction("Enrol this machine…").triggered.connect(self.open_enrol)
        self.menu.addAction("Settings…").triggered.connect(self.open_settings)
        if self.on_quit is not None:
            self.menu.addAction("Quit").triggered.connect(self.on_quit)

    def _outcome(self, run: object) -> str:
        from agent.attended import AttendedRun

        assert isinstance(run, AttendedRun)
        if run.running:
            return "paused" if run.paused else "running"
        events = run.runtime.outbox.events(run.execution_id)
        end = next((e for e in reversed(events) if e.type == "execution.finished"), None)
        return str(end.data["status"]) if end is not None else "reported"

    def run_with_form(self, flow: CachedFlow) -> None:
        """Start `flow` from the menu, asking its inputs first when it has any."""
        inputs: dict[str, object] = {}
        if flow.flow().inputs:
            form = RunForm(flow)
            if form.exec() != RunForm.DialogCode.Accepted:
                return
            inputs = form.values()
        try:
            self.controller.run(flow, inputs=inputs, trigger={"type": "tray"})
        except AttendedRunError as exc:
            if self.icon is not None:
                self.icon.showMessage("RPA agent", str(exc), QSystemTrayIcon.MessageIcon.Warning)

    def notify(self, notice: Notice) -> None:
        """Show a notice: the tray's balloon, or the fallback window's status line."""
        self.last_notice = notice
        if self.icon is not None:
            kind = QSystemTrayIcon.MessageIcon.Warning if notice.warning else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(notice.title, notice.message, kind)
        if self.window is not None:
            self.notice_button.setText(f"{notice.title}: {notice.message}  (details…)")
            self.notice_button.setStyleSheet("text-align: left" + ("; color: #d13a2f" if notice.warning else ""))
            self.notice_button.show()

    def _notice_clicked(self) -> None:
        if self.last_notice is not None:
            self.open_details(self.last_notice.execution_id)

    def open_details(self, execution_id: str) -> RunDetails | None:
        """Open the details of one of the last runs (None when it is not among them)."""
        run = next((r for r in self.controller.last if r.execution_id == execution_id), None)
        if run is None:
            return None
        if self.details is not None:
            self.details.close()
        self.details = RunDetails(run_outcome(run.runtime, run))
        self.details.show()
        self.details.raise_()
        return self.details

    def open_sign_in(self) -> SignInDialog:
        """Show the sign-in dialog; once signed in, runs are reported for that user and their
        organisation's flows are fetched."""
        if self.sign_in_dialog is not None:
            self.sign_in_dialog.close()
        dialog = SignInDialog(self._url(), organisation=self.settings.organisation or "")
        dialog.accepted.connect(lambda: self._signed_in(dialog))
        self.sign_in_dialog = dialog
        dialog.open()
        return dialog

    def _signed_in(self, dialog: SignInDialog) -> None:
        client = dialog.client
        if client is None:
            return
        self.flows_client = lambda: client
        self.run_menu.refresh = self.start_flow_refresh
        self.timer.start()
        chosen = {"user_id": str(dialog.me.get("user_id")), "organisation": dialog.organisation.text().strip() or None}
        self.apply_settings(self.settings.model_copy(update=chosen))
        self.start_flow_refresh()
        if self.runtime is None and self.runtime_factory is not None:
            # Not enrolled yet: the signed-in user's session enrols the machine (a manager may).
            self.going_online = asyncio.ensure_future(self.enrol_and_connect(client))

    async def enrol_and_connect(self, client: ApiClient) -> bool:
        """Enrol this machine through `client`'s session and connect as it; a refusal is said in
        a notice (the Enrol dialog with a token from a manager remains)."""
        try:
            identity = await asyncio.to_thread(enrol_with_session, client)
        except EnrolmentError as exc:
            self.notify(Notice("", "Not enrolled", str(exc), warning=True))
            return False
        return self._connect_as(f"{identity.name} ({identity.agent_id})")

    def open_enrol(self) -> EnrolDialog:
        """Show the enrolment dialog (an enrolment token becomes this machine's agent key, kept in
        the OS keyring); the tray connects as the new agent at its next start."""
        if self.enrol_dialog is not None:
            self.enrol_dialog.close()
        dialog = EnrolDialog(self._url())
        dialog.accepted.connect(lambda: self._enrolled(dialog))
        self.enrol_dialog = dialog
        dialog.open()
        return dialog

    def _enrolled(self, dialog: EnrolDialog) -> None:
        if dialog.identity is not None:
            self._connect_as(f"{dialog.identity.name} ({dialog.identity.agent_id})")

    def _connect_as(self, who: str) -> bool:
        """The machine was just enrolled as `who`: start its runtime here when none runs yet."""
        if self.runtime is not None or self.runtime_factory is None:
            self.notify(Notice("", "Enrolled", f"This machine is agent {who}; restart the tray to connect as it"))
            return False
        try:
            runtime = self.runtime_factory()
        except KeystoreError as exc:
            self.not_enrolled = str(exc)
            self.notify(Notice("", "Not enrolled", str(exc), warning=True))
            return False
        self.go_online(runtime)
        self.notify(Notice("", "Enrolled", f"This machine is agent {who}; connecting"))
        return True

    def go_online(self, runtime: AgentRuntime) -> None:
        """Run with `runtime` from now on: follow its status, go on with unfinished attended
        runs of its outbox, and start it (on this loop)."""
        self.runtime, self.not_enrolled = runtime, None
        runtime.subscribe(self._on_status)
        self.controller.attach(runtime)
        runtime.start()
        self.refresh()

    def _url(self) -> str:
        return self.settings.url or (self.runtime.config.url if self.runtime is not None else "")

    def open_settings(self) -> SettingsDialog:
        """Show the Settings dialog (non-modal: the agent keeps running); Save applies at once."""
        if self.settings_dialog is not None:
            self.settings_dialog.close()
        flows = {flow.name: flow.hotkey for flow in self.controller.cache.all() if flow.hotkey}
        dialog = SettingsDialog(self.settings, flows)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.chosen()))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def apply_settings(self, settings: TraySettings) -> None:
        """Save `settings` and apply them: user, hotkeys (registered again), start at login, notifications."""
        previous, self.settings = self.settings, settings
        if self.settings_folder is not None:
            save_settings(self.settings_folder, settings)
        if settings.start_at_login != previous.start_at_login:
            set_autostart(settings.start_at_login)
        controller = self.controller
        controller.user_id = settings.user_id
        if (settings.pause_hotkey, settings.stop_hotkey) != (controller.pause_hotkey, controller.stop_hotkey):
            controller.pause_hotkey, controller.stop_hotkey = settings.pause_hotkey, settings.stop_hotkey
            self.banner.pause_hotkey, self.banner.stop_hotkey = settings.pause_hotkey, settings.stop_hotkey
            self._rebind_hotkeys()
        self.refresh()

    def close(self) -> None:
        """Hide everything."""
        self.timer.stop()
        for task in (self.syncing, self.going_online):
            if task is not None:
                task.cancel()
        for dialog in (self.details, self.settings_dialog, self.sign_in_dialog, self.enrol_dialog):
            if dialog is not None:
                dialog.close()
        self.banner.close()
        if self.icon is not None:
            self.icon.hide()
        if self.window is not None:
            self.window.close()
