"""The window's side of an orchestrator: the "Orchestrator" menu and what its actions do.

Every call to the orchestrator runs in a worker thread (`asyncio.to_thread`) awaited on the
window's loop (qasync), so a slow orchestrator never freezes the window. Messages are shown in
non-modal boxes (`last_message`), in the API's words. A refused save or publish changes nothing
in the open document: its edits stay, and can still be saved to a file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from shared.client import ApiClient, ApiError, ImportedWorkflow, Priority, StaleRevision, Version
from shared.flow import Problem
from studio.model import FlowDocument, ProblemAt, ValidationChanged, node_of
from studio.remote import Connection, Connections, TokenStore, open_draft, open_version, publish, save, source_of
from studio.views.remote._assist import add_breaking_changes, open_describe
from studio.views.remote._assist import diagnose as diagnose_execution
from studio.views.remote._dialogs import PublishDialog, StartExecutionDialog
from studio.views.remote._signin import SignInDialog
from studio.views.remote._tasks import spawn

if TYPE_CHECKING:
    from studio.app import StudioWindow
    from studio.views.ai import DescribeFlowDialog, DiagnoseDialog
    from studio.views.remote._panel import WorkflowsPanel

MENU_ACTIONS = (
    ("sign_in", "&Sign in…"),
    ("switch_org", "S&witch organisation…"),
    ("sign_out", "Sign &out"),
    ("", ""),
    ("save_remote", "Save to &orchestrator"),
    ("publish", "&Publish…"),
    ("clone", "&Clone…"),
    ("export", "&Export to a file…"),
    ("import", "&Import from a file…"),
    ("", ""),
    ("start_execution", "Start e&xecution…"),
    ("", ""),
    ("describe_flow", "&Describe a flow (AI)…"),
)
"""The Orchestrator menu, by key (`RemoteController.actions`); "" is a separator."""
FILE_MENU_KEYS = ("save_remote", "publish")
"""The actions the File menu shows too."""


class RemoteController(QObject):
    """The connections of the studio and the orchestrator actions of one window."""

    connection_changed = Signal()

    def __init__(self, window: StudioWindow, connections: Connections | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.connections = connections or Connections(window.settings, TokenStore(window.config / "tokens"))
        self.panel: WorkflowsPanel | None = None
        self.last_message: QMessageBox | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self.start_dialog: StartExecutionDialog | None = None
        self.describe_dialog: DescribeFlowDialog | None = None
        self.diagnose_dialog: DiagnoseDialog | None = None
        self._credential_names: list[str] = []
        self.menu = QMenu("&Orchestrator", window)
        self.menu.setObjectName("menu-orchestrator")
        self.actions: dict[str, QAction] = {}
        handlers = {
            "sign_in": self.open_sign_in,
            "switch_org": lambda: spawn(self.ask_switch_org()),
            "sign_out": lambda: spawn(self.sign_out()),
            "save_remote": lambda: spawn(self.save()),
            "publish": self.open_publish,
            "clone": lambda: spawn(self.ask_clone()),
            "export": lambda: spawn(self.ask_export()),
            "import": lambda: spawn(self.ask_import()),
            "start_execution": lambda: spawn(self.open_start()),
            "describe_flow": lambda: open_describe(self),
        }
        for key, text in MENU_ACTIONS:
            if not key:
                self.menu.addSeparator()
                continue
            action = self.menu.addAction(text)
            action.setObjectName(f"action-{key.replace('_', '-')}")
            action.triggered.connect(lambda _checked=False, run=handlers[key]: run())
            self.actions[key] = action
        self.connection_changed.connect(self._update_actions)
        self._update_actions()
        if self.connection is not None:
            QTimer.singleShot(0, lambda: spawn(self.refresh_credentials()))

    # -- state ------------------------------------------------------------------------------

    @property
    def connection(self) -> Connection | None:
        """The orchestrator the studio works with, or None."""
        return self.connections.active

    def client_or_none(self) -> ApiClient | None:
        """The active connection's client, or None when not signed in."""
        connection = self.connection
        if connection is None:
            return None
        try:
            return self.connections.client(connection)
        except ApiError:
            return None

    def _update_actions(self) -> None:
        connection = self.connection
        for key, action in self.actions.items():
            action.setEnabled(key == "sign_in" or connection is not None)
        self.menu.setToolTip(connection.display_name if connection else "Not signed in")

    def credential_names(self) -> list[str]:
        """The signed-in organisation's credential names (as last fetched)."""
        return list(self._credential_names)

    async def refresh_credentials(self) -> list[str]:
        """Fetch the organisation's credential names for the properties panel's pickers."""
        client = self.client_or_none()
        try:
            names = await asyncio.to_thread(client.credentials.names) if client else []
        except ApiError:
            names = []
        self._credential_names = names
        return names

    def show_message(self, title: str, text: str, *, error: bool = True) -> QMessageBox:
        """A non-modal message box over the window (kept in `last_message`)."""
        icon = QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName("orchestrator-message")
        box.open()
        self.last_message = box
        return box

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def _client(self) -> ApiClient | None:
        client = self.client_or_none()
        if client is None:
            self.show_message("Not signed in", "Sign in to an orchestrator first: Orchestrator ▸ Sign in…")
        return client

    # -- sign in, switch, sign out ----------------------------------------------------------

    def open_sign_in(self) -> SignInDialog:
        """Show the sign-in dialog (prefilled with the last connection's URL and e-mail)."""
        last = self.connection or next(iter(self.connections.list()), None)
        dialog = SignInDialog(
            self.connections, url=last.url if last else "", email=last.email if last else "", parent=self.window
        )
        dialog.accepted.connect(lambda: spawn(self._signed_in()))
        self.sign_in_dialog = dialog
        dialog.open()
        return dialog

    async def _signed_in(self) -> None:
        self.connection_changed.emit()
        connection = self.connection
        if connection is not None:
            self._status(f"signed in: {connection.display_name}")
        await self._refresh_views()

    async def _refresh_views(self) -> None:
        await self.refresh_credentials()
        if self.panel is not None:
            await self.panel.refresh()

    async def ask_switch_org(self) -> Connection | None:
        """Ask which organisation to work in (of the account's), then switch."""
        connection, client = self.connection, self._client()
        if connection is None or client is None:
            return None
        try:
            orgs = await asyncio.to_thread(self.connections.organisations, connection)
        except ApiError as exc:
            self.show_message("Cannot list organisations", exc.message)
            return None
        names = [f"{o.name} ({o.role})" for o in orgs]
        current = next((i for i, o in enumerate(orgs) if o.id == connection.org_id), 0)
        chosen, ok = QInputDialog.getItem(self.window, "Switch organisation", "Organisation", names, current, False)
        if not ok:
            return None
        return await self.switch_org(orgs[names.index(chosen)].slug)

    async def switch_org(self, slug: str) -> Connection | None:
        """Work in the organisation `slug` from now on."""
        connection = self.connection
        if connection is None:
            return None
        try:
            switched = await asyncio.to_thread(self.connections.switch_org, connection, slug)
        except ApiError as exc:
            self.show_message("Cannot switch organisation", exc.message)
            return None
        self.connection_changed.emit()
        self._status(f"now in {switched.org_name}")
        await self._refresh_views()
        return switched

    async def sign_out(self) -> None:
        """Sign out of the active orchestrator (the session revoked there, the token deleted here)."""
        connection = self.connection
        if connection is None:
            return
        await asyncio.to_thread(self.connections.sign_out, connection)
        self.connection_changed.emit()
        self._status(f"signed out of {connection.url}")
        await self._refresh_views()

    # -- documents --------------------------------------------------------------------------

    async def open_workflow(self, workflow_id: str) -> bool:
        """Open a workflow's draft (after asking about unsaved edits of the open flow)."""
        return await self._open(lambda client: open_draft(client, workflow_id, registry=self.window.document.registry))

    async def open_version(self, workflow_id: str, number: int) -> bool:
        """Open published version `number` of a workflow, read-only."""
        registry = self.window.document.registry
        return await self._open(lambda client: open_version(client, workflow_id, number, registry=registry))

    async def _open(self, load: Any) -> bool:
        client = self._client()
        if client is None or not self.window.maybe_save():
            return False
        try:
            document: FlowDocument = await asyncio.to_thread(load, client)
        except ApiError as exc:
            self.show_message("Cannot open the workflow", exc.message)
            return False
        self.window.open_document(document)
        source = source_of(document)
        self._status(f"opened {source.label if source else document.title} from {client.url}")
        return True

    async def save(self) -> bool:
        """Save the open flow as its workflow's draft (a local flow becomes a new workflow)."""
        client = self._client()
        if client is None:
            return False
        document = self.window.document
        try:
            saved = await asyncio.to_thread(save, client, document)
        except StaleRevision as exc:
            self.show_message(
                "The workflow changed on the orchestrator",
                f"{exc.message}.\n\nYour edits are still here and were not saved: save them to a file "
                "(File ▸ Save as…), open the workflow again and reapply them.",
            )
            return False
        except ApiError as exc:
            self.show_message("Cannot save to the orchestrator", exc.message)
            return False
        self.window._update_title()
        problems = f", {len(saved.problems)} problem(s)" if saved.problems else ""
        self._status(f"saved “{saved.name}” to the orchestrator, revision {saved.draft_revision}{problems}")
        self.show_server_problems([p.model_dump() for p in saved.problems])
        if self.panel is not None:
            await self.panel.refresh()
        return True

    def open_publish(self) -> PublishDialog | None:
        """Ask for the note, then publish the open flow."""
        if self._client() is None:
            return None
        dialog = PublishDialog(self.window.document.title, self.window)
        add_breaking_changes(self, dialog)
        dialog.accepted.connect(lambda: spawn(self.publish(dialog.note.text())))
        dialog.open()
        return dialog

    async def publish(self, note: str) -> Version | None:
        """Save when needed, then publish the draft; a refusal's problems go to the Problems panel."""
        client = self._client()
        if client is None:
            return None
        try:
            version = await asyncio.to_thread(publish, client, self.window.document, note=note)
        except ApiError as exc:
            self.show_server_problems(exc.problems)
            self.show_message("Not published", exc.message)
            return None
        self.window._update_title()
        self._status(f"published version {version.number}")
        if self.panel is not None:
            await self.panel.refresh()
        return version

    def show_server_problems(self, problems: list[dict[str, Any]]) -> None:
        """Show the orchestrator's problems in the Problems panel and on the canvas nodes, with the
        local ones (until the next local check)."""
        live = self.window.live
        if live is None or not problems:
            return
        index = self.window.document.index
        known = {(p.problem.path, p.problem.message) for p in live.problems}
        extra = []
        for item in problems:
            problem = Problem(str(item.get("path", "$")), str(item.get("message", "")), str(item.get("code", "")))
            if (problem.path, problem.message) not in known:
                extra.append(ProblemAt(problem, node_of(index, problem.path)))
        live.problems = (*live.problems, *extra)
        self.window.document.events.emit(ValidationChanged(live.problems, live.findings))

    async def diagnose(self, execution_id: str, workflow_id: str) -> DiagnoseDialog | None:
        """Why a failed execution failed, with the fix as a diff against its workflow's draft."""
        return await diagnose_execution(self, execution_id, workflow_id)

    # -- clone, export, import --------------------------------------------------------------

    def _workflow_id(self) -> str | None:
        source = source_of(self.window.document)
        if source is None:
            self.show_message(
                "Not on the orchestrator", "Open a workflow from the orchestrator (or save it there) first."
            )
            return None
        return source.workflow_id

    async def ask_clone(self) -> bool:
        """Ask for the new name, then clone the open workflow."""
        source = source_of(self.window.document)
        name, ok = QInputDialog.getText(
            self.window, "Clone workflow", "Name", text=f"{source.name} copy" if source else ""
        )
        return await self.clone(name) if ok and name.strip() else False

    async def clone(self, name: str) -> bool:
        """Copy the open workflow (its draft, or the version open read-only) into a new one, and open it."""
        client, workflow_id = self._client(), self._workflow_id()
        if client is None or workflow_id is None:
            return False
        version = source_of(self.window.document).version  # type: ignore[union-attr]
        try:
            clone = await asyncio.to_thread(client.workflows.clone, workflow_id, name, version=version)
        except ApiError as exc:
            self.show_message("Cannot clone", exc.message)
            return False
        return await self.open_workflow(clone.id)

    async def ask_export(self) -> Path | None:
        """Ask where, then export the open workflow as a bundle file."""
        source = source_of(self.window.document)
        start = str(Path.home() / f"{source.name if source else 'workflow'}.bundle.json")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export workflow", start, "Bundles (*.json)")
        return await self.export_to(Path(path)) if path else None

    async def export_to(self, path: Path) -> Path | None:
        """Write the open workflow and the sub-flows it calls to `path` (`rpa.bundle/1`)."""
        client, workflow_id = self._client(), self._workflow_id()
        if client is None or workflow_id is None:
            return None
        try:
            bundle = await asyncio.to_thread(client.workflows.export_bundle, workflow_id)
            text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except (ApiError, OSError) as exc:
            self.show_message("Cannot export", getattr(exc, "message", None) or str(exc))
            return None
        self._status(f"exported to {path}")
        return path

    async def ask_import(self) -> list[ImportedWorkflow]:
        """Ask for a bundle file, then import it."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Import workflows", str(Path.home()), "Bundles (*.json)")
        return await self.import_from(Path(path)) if path else []

    async def import_from(self, path: Path) -> list[ImportedWorkflow]:
        """Import a bundle file (a name in use gets a new name), then open the first workflow."""
        client = self._client()
        if client is None:
            return []
        try:
            bundle = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
            imported = await asyncio.to_thread(client.workflows.import_bundle, bundle, on_conflict="rename")
        except ApiError as exc:
            self.show_message("Cannot import", exc.message)
            return []
        except (OSError, ValueError) as exc:
            self.show_message("Cannot import", f"{path}: {exc}")
            return []
        self._status(f"imported {', '.join(w.name for w in imported)}")
        if imported:
            await self.open_workflow(imported[0].id)
        if self.panel is not None:
            await self.panel.refresh()
        return imported

    # -- executions -------------------------------------------------------------------------

    async def open_start(self) -> StartExecutionDialog | None:
        """The start dialog for the open workflow's latest version (its inputs as a form)."""
        client, workflow_id = self._client(), self._workflow_id()
        if client is None or workflow_id is None:
            return None
        try:
            workflow = await asyncio.to_thread(client.workflows.get, workflow_id)
            if workflow.latest_version is None:
                raise ApiError(0, "not_published", f"“{workflow.name}” has no published version to run: publish it")
            version = await asyncio.to_thread(client.workflows.version, workflow_id, workflow.latest_version)
        except ApiError as exc:
            self.show_message("Cannot start", exc.message)
            return None
        inputs = version.document.get("inputs")
        dialog = StartExecutionDialog(
            f"{workflow.name} v{version.number}",
            inputs if isinstance(inputs, dict) else {},
            lambda values, priority: client.executions.start(
                workflow_id, inputs=values, priority=cast("Priority | None", priority), version=version.number
            ),
            client.executions.get,
            self.window,
        )
        self.start_dialog = dialog
        dialog.open()
        return dialog


def remote_controller(window: StudioWindow) -> RemoteController:
    """The controller of `window`, its Orchestrator menu in the menu bar (after Debug) and its
    save and publish actions in the File menu too."""
    controller = RemoteController(window)
    window.menuBar().addMenu(controller.menu)
    file_menu = window.actions_by_key["save_as"].associatedObjects()[0]
    if isinstance(file_menu, QMenu):
        before = window.actions_by_key["start"]
        for key in FILE_MENU_KEYS:
            file_menu.insertAction(before, controller.actions[key])
        file_menu.insertSeparator(before)
    return controller
