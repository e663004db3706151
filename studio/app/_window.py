"""The studio's main window: menus, toolbar, status bar, the canvas, the docks, files.

The window holds one document at a time. Opening another builds a new canvas and calls every
dock factory again with it, so no panel ever shows a stale document.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from shared.client import ApiClient
from studio.app._actions import ShortcutSheet, build_actions
from studio.app._docks import DOCKS, DockSpec
from studio.app._start import StartPage, Template
from studio.app._theme import apply_theme
from studio.app._tools import ToolWiring
from studio.model import (
    CommandError,
    DirtyChanged,
    DocumentError,
    FlowChanged,
    FlowDocument,
    LiveValidation,
    NewerFormatError,
    RecentFiles,
    Recovery,
    Settings,
    UndoChanged,
    ValidationChanged,
    config_dir,
    write_atomic,
)
from studio.model._validation import Checked
from studio.remote import source_of
from studio.views.canvas import FlowView
from studio.views.dashboard import ClientApi
from studio.views.remote import remote_controller, spawn
from studio.views.versions import RemoteWorkflows

APP_NAME = "RPA Studio"
ORCHESTRATOR_DOCKS = ("Versions", "Executions", "Dashboard", "Credentials and agents")
"""Docks made again when the signed-in orchestrator changes (`_refresh_orchestrator_docks`)."""
CONTEXT_ACTIONS = (
    "cut",
    "copy",
    "paste",
    "duplicate",
    "delete",
    "disable",
    "collapse",
    "note",
    "extract",
    "auto_layout",
)
"""The canvas's right-click menu (the same actions as the menus, shortcuts included)."""
THREADED_CHECK_FROM = 300
"""From this many nodes live validation runs in a worker thread (5,000 nodes take seconds)."""
Factory = Callable[[FlowDocument, QMainWindow], QWidget]
_AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "top": Qt.DockWidgetArea.TopDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}


class DockError(Exception):
    """A dock entry whose factory cannot be imported (a broken install, a typo in `_docks.py`)."""


def load_factory(spec: DockSpec) -> Factory:
    """Import a dock's factory by its path.

    Raises:
        DockError: the module does not import, the name is missing, or the area is unknown.
    """
    module_name, _, name = spec.factory.partition(":")
    if spec.area not in _AREAS:
        raise DockError(f"dock '{spec.title}': area '{spec.area}' is not one of {', '.join(_AREAS)}")
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise DockError(f"dock '{spec.title}': cannot load {spec.factory}: {err}") from err
    if not callable(factory):
        raise DockError(f"dock '{spec.title}': {spec.factory} is not callable")
    return factory  # type: ignore[no-any-return]


class StudioWindow(QMainWindow):
    """The designer.

    Args:
        config: folder of the settings, recent files, recovery files and window layout (the
            studio's config folder by default; tests pass a temporary one).
        autosave_s: seconds between autosaves of unsaved edits to the recovery file.
        docks: the dock entries (`studio/app/_docks.py`).
        templates: the start page's templates (read from `resources/templates/` by default).
    """

    def __init__(
        self,
        *,
        config: Path | None = None,
        autosave_s: float = 30.0,
        docks: Sequence[DockSpec] = DOCKS,
        templates: list[Template] | None = None,
    ) -> None:
        super().__init__()
        self.config = config or config_dir()
        self.settings = Settings(self.config / "settings.json")
        self.recent = RecentFiles(self.settings)
        self.recovery = Recovery(self.config / "recovery")
        self.layout_store = QSettings(str(self.config / "window.ini"), QSettings.Format.IniFormat)
        self.factories = [(spec, load_factory(spec)) for spec in docks]
        self.document = FlowDocument.new()
        self.canvas: FlowView | None = None
        self.live: LiveValidation | None = None
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-validation")
        self._checking: Future[Checked] | None = None
        self._quiet_since: tuple[int, float] = (-1, 0.0)
        self.dock_widgets: dict[str, QDockWidget] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self.setWindowTitle(APP_NAME)
        self.setDockNestingEnabled(True)
        self.stack = QStackedWidget(self)
        self.setCentralWidget(self.stack)
        self.actions_by_key: dict[str, QAction] = build_actions(self)
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu = self.actions_by_key["open"].associatedObjects()[0]
        if isinstance(file_menu, QMenu):
            file_menu.insertMenu(self.actions_by_key["save"], self.recent_menu)
        self.start_page = StartPage(self, templates)
        self.stack.addWidget(self.start_page)
        self.problems_label = QLabel()
        self.zoom_label = QLabel()
        self.statusBar().addPermanentWidget(self.problems_label)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.validation_timer = QTimer(self, interval=300)
        self.validation_timer.timeout.connect(self._poll_validation)
        self.validation_timer.start()
        self.autosave_timer = QTimer(self, interval=max(1, int(autosave_s * 1000)))
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.tools = ToolWiring(self)
        self.remote = remote_controller(self)
        self.remote.connection_changed.connect(self._refresh_orchestrator_docks)
        self.open_document(self.document, show=False)
        self._restore_layout()

    # -- documents --------------------------------------------------------------------------

    def open_document(self, document: FlowDocument, *, show: bool = True) -> None:
        """Show `document` (the previous one is dropped: ask `maybe_save` first)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self.canvas is not None:
            self.canvas.close_scene()
            self.stack.removeWidget(self.canvas)
            self.canvas.deleteLater()
        self.document = document
        self.canvas = FlowView(document, self.stack)
        self.canvas.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.canvas.zoomChanged.connect(lambda zoom: self.zoom_label.setText(f"{zoom:.0%}"))
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.canvas.addActions([self.actions_by_key[key] for key in CONTEXT_ACTIONS])
        self.stack.addWidget(self.canvas)
        events = document.events
        self._unsubscribe = [
            events.connect(DirtyChanged, lambda _e: self._update_title()),
            events.connect(FlowChanged, lambda _e: self._update_title()),
            events.connect(UndoChanged, self._update_undo),
            events.connect(ValidationChanged, self._show_problems),
        ]
        self.live = LiveValidation(document)
        self._checking = None
        self._build_docks()
        if len(document.index) < THREADED_CHECK_FROM:
            self.live.run()
        self._update_title()
        self._update_undo(None)
        self.zoom_label.setText(f"{self.canvas.zoom:.0%}")
        if show:
            self.stack.setCurrentWidget(self.canvas)
            self.canvas.fit()

    def _build_docks(self) -> None:
        """Fill each dock with its factory's widget for the current document; the dock frames
        stay (and with them the layout the user arranged), their contents are replaced."""
        first = not self.dock_widgets
        for spec, factory in self.factories:
            dock = self.dock_widgets.get(spec.title)
            if dock is None:
                dock = QDockWidget(spec.title, self)
                dock.setObjectName(f"dock-{spec.title.lower().replace(' ', '-')}")
                self.addDockWidget(_AREAS[spec.area], dock)
                self.dock_widgets[spec.title] = dock
            old = dock.widget()
            dock.setWidget(factory(self.document, self))
            if old is not None:
                old.deleteLater()
        self.tools.wire()
        if first:
            self._first_layout()

    def _first_layout(self) -> None:
        """Tabs, sizes, then the layout the user left last time (which wins)."""
        for spec, _ in self.factories:
            if spec.tab_with in self.dock_widgets:
                self.tabifyDockWidget(self.dock_widgets[spec.tab_with], self.dock_widgets[spec.title])
        for spec, _ in self.factories:
            if spec.tab_with is None:
                self.dock_widgets[spec.title].raise_()
        for area, width in (("left", 300), ("right", 300)):
            docks = [self.dock_widgets[s.title] for s, _ in self.factories if s.area == area]
            self.resizeDocks(docks, [width] * len(docks), Qt.Orientation.Horizontal)
        bottom = [self.dock_widgets[s.title] for s, _ in self.factories if s.area == "bottom"]
        self.resizeDocks(bottom, [220] * len(bottom), Qt.Orientation.Vertical)
        state = self.layout_store.value("state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent.list():
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_file(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(no recent files)").setEnabled(False)

    def show_start_page(self) -> None:
        """Back to the start page (the open flow stays open)."""
        self.start_page.refresh_recent()
        self.stack.setCurrentWidget(self.start_page)

    def new_flow(self) -> None:
        """An empty flow (after asking about unsaved edits)."""
        if self.maybe_save():
            self.open_document(FlowDocument.new())

    def open_dialog(self) -> bool:
        """Ask for a flow file and open it."""
        if not self.maybe_save():
            return False
        start = str(self.document.path.parent) if self.document.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open flow", start, "Flows (*.json *.yaml *.yml)")
        return self.open_file(Path(path), ask=False) if path else False

    def open_file(self, path: Path, *, ask: bool = True) -> bool:
        """Open a flow file; a broken one opens with its problems listed, a newer format is refused.

        Returns:
            True when the file is open.
        """
        if ask and not self.maybe_save():
            return False
        try:
            document = FlowDocument.open(path, registry=self.document.registry)
        except NewerFormatError as err:
            QMessageBox.critical(self, "Newer flow format", str(err))
            self.statusBar().showMessage(str(err))
            return False
        except DocumentError as err:
            QMessageBox.critical(self, "Cannot open the flow", str(err))
            self.statusBar().showMessage(str(err))
            return False
        if document.path is not None:
            self.recent.add(document.path)
        self.open_document(document)
        problems = self.live.problems if self.live else ()
        if problems:
            first = problems[0].problem
            self.statusBar().showMessage(f"{path.name} opened with {len(problems)} problem(s); first: {first}")
        else:
            self.statusBar().showMessage(f"opened {path}", 5000)
        return True

    def save(self) -> bool:
        """Save to the document's file (ask for one when it has none). A draft opened from an
        orchestrator is saved there instead, off the UI thread: False meanwhile, so a close or an
        open that asked first waits for the next try (a refused save loses nothing)."""
        source = source_of(self.document)
        if self.document.path is None and source is not None and source.version is None:
            spawn(self.remote.save())
            self.statusBar().showMessage(f"saving {source.name} to the orchestrator…", 5000)
            return False
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        """Ask where, then save as JSON."""
        start = str(self.document.path or Path.home() / f"{self.document.title}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save flow as", start, "Flows (*.json)")
        if not path:
            return False
        target = Path(path) if path.lower().endswith(".json") else Path(f"{path}.json")
        return self._save_to(target)

    def _save_to(self, target: Path) -> bool:
        try:
            self.document.save(target)
        except (DocumentError, OSError) as err:
            QMessageBox.critical(self, "Cannot save the flow", str(err))
            return False
        self.recovery.autosave(self.document)  # clean now: drops the recovery file
        self.recent.add(target)
        self._update_title()
        self.statusBar().showMessage(f"saved {target}", 5000)
        return True

    def maybe_save(self) -> bool:
        """Ask what to do with unsaved edits; False when the user cancels."""
        if not self.document.dirty:
            return True
        buttons = (
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        )
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to “{self.document.title}” first?",
            buttons,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        if answer == QMessageBox.StandardButton.Discard:
            self.recovery.forget(self.document)
            return True
        return False

    def extract_selection(self) -> bool:
        """Move the selected nodes into a new sub-flow file, called from here (one undo step)."""
        ids = self.canvas.selected_ids() if self.canvas else []
        if not ids:
            self.statusBar().showMessage("select the nodes to extract first", 5000)
            return False
        folder = self.document.path.parent if self.document.path else Path.home()
        path, _ = QFileDialog.getSaveFileName(self, "Save the sub-flow as", str(folder / "subflow.json"), "*.json")
        if not path:
            return False
        target = Path(path)
        try:
            reference = str(target.relative_to(folder)) if target.is_relative_to(folder) else str(target)
            result = self.document.execute("extract_subflow", ids=ids, reference=reference, name=target.stem)
            write_atomic(target, json.dumps(result["flow"], indent=2, ensure_ascii=False) + "\n")
        except CommandError as err:
            self.statusBar().showMessage(str(err), 8000)
            return False
        except OSError as err:
            self.document.undo()
            QMessageBox.critical(self, "Cannot write the sub-flow", str(err))
            return False
        self.document.selection.select([result["node"]])
        self.statusBar().showMessage(f"extracted {len(ids)} node(s) to {target}", 8000)
        return True

    # -- recovery ---------------------------------------------------------------------------

    def autosave(self) -> Path | None:
        """Write unsaved edits to the recovery file (called by the timer)."""
        return self.recovery.autosave(self.document) if self.document.dirty else None

    def offer_recovery(self) -> bool:
        """Offer back each document a crashed session left unsaved; True when one was restored."""
        for candidate in self.recovery.candidates():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(candidate.saved_at))
            answer = QMessageBox.question(
                self,
                "Recover unsaved work",
                f"“{candidate.title}” has unsaved changes from {when}, left by a studio that did not "
                "close properly. Restore them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.recovery.discard(candidate)
                continue
            try:
                document = self.recovery.restore(candidate, registry=self.document.registry)
            except DocumentError as err:
                QMessageBox.critical(self, "Cannot recover", str(err))
                continue
            self.open_document(document)
            return True
        return False

    # -- view -------------------------------------------------------------------------------

    def set_theme(self, theme: str) -> None:
        """Switch theme (`system`, `light`, `dark`) and remember it."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.settings.set("theme", theme)
        for view in self.findChildren(FlowView):
            view.flow_scene.update()
            view.viewport().update()

    def show_shortcuts(self) -> ShortcutSheet:
        """The cheat sheet of every shortcut."""
        sheet = ShortcutSheet(self.actions_by_key, self)
        sheet.show()
        return sheet

    def _update_title(self) -> None:
        source = source_of(self.document)
        title = source.label if source is not None else self.document.title
        self.setWindowTitle(f"{title}[*] — {APP_NAME}")
        self.setWindowModified(self.document.dirty)

    def _update_undo(self, event: UndoChanged | None) -> None:
        undo = event.undo if event else None
        redo = event.redo if event else None
        self.actions_by_key["undo"].setText(f"&Undo {undo}" if undo else "&Undo")
        self.actions_by_key["undo"].setEnabled(undo is not None)
        self.actions_by_key["redo"].setText(f"&Redo {redo}" if redo else "&Redo")
        self.actions_by_key["redo"].setEnabled(redo is not None)

    def _poll_validation(self) -> None:
        live = self.live
        if live is None:
            return
        if len(self.document.index) < THREADED_CHECK_FROM:
            live.poll()
            return
        # A large flow is checked off the UI thread on a snapshot; a result older than the
        # latest edit is dropped by `apply` and the next quiet moment checks again.
        if self._checking is not None:
            if self._checking.done():
                live.apply(self._checking.result())
                self._checking = None
            return
        now = time.monotonic()
        if self._quiet_since[0] != live.generation:
            self._quiet_since = (live.generation, now)
        if live.stale and now - self._quiet_since[1] >= live.delay_s:
            self._checking = self._checks.submit(LiveValidation.check, live.snapshot())

    def wait_for_validation(self, timeout_s: float = 30.0) -> None:
        """Block until a worker-thread check in flight has finished and was applied (tests)."""
        if self._checking is not None and self.live is not None:
            self.live.apply(self._checking.result(timeout=timeout_s))
            self._checking = None

    def _show_problems(self, event: ValidationChanged) -> None:
        problems, findings = len(event.problems), len(event.findings)
        self.problems_label.setText(f"{problems} problem(s), {findings} warning(s)")
        self.problems_label.setToolTip("\n".join(str(p.problem) for p in event.problems[:30]))

    @property
    def validation(self) -> LiveValidation | None:
        """The document's live validation, shared with the problems panel."""
        return self.live

    def credential_names(self) -> list[str]:
        """Credential names for the properties panel's pickers: the signed-in organisation's (none
        until the studio is signed in to an orchestrator)."""
        return self.remote.credential_names()

    @property
    def api_client(self) -> ApiClient | None:
        """The signed-in orchestrator's API client (the monitor and dashboard docks use it), or None."""
        return self.remote.client_or_none()

    def orchestrator_api(self) -> ClientApi | None:
        """The dashboard's and the admin panels' calls to the signed-in orchestrator, or None."""
        client = self.api_client
        return ClientApi(client) if client is not None else None

    def _refresh_orchestrator_docks(self) -> None:
        """After a sign-in, sign-out or switch of organisation, the docks that show the
        orchestrator's data are made again for it (the others keep their state)."""
        for spec, factory in self.factories:
            dock = self.dock_widgets.get(spec.title)
            if spec.title not in ORCHESTRATOR_DOCKS or dock is None:
                continue
            old = dock.widget()
            dock.setWidget(factory(self.document, self))
            if old is not None:
                old.close()  # a monitor stops polling and streaming when closed
                old.deleteLater()

    def remote_workflow(self, document: FlowDocument) -> tuple[RemoteWorkflows, str] | None:
        """The orchestrator and workflow id `document` was opened from (the Versions dock lists
        its versions), or None for a local file or when not signed in."""
        source = source_of(document)
        client = self.api_client
        if source is None or client is None:
            return None
        return RemoteWorkflows(client), source.workflow_id

    @property
    def problems(self) -> list[str]:
        """The current validation problems, as text."""
        return [str(p.problem) for p in self.live.problems] if self.live else []

    def _restore_layout(self) -> None:
        geometry = self.layout_store.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)

    def save_layout(self) -> None:
        """Remember the window's geometry and dock layout."""
        self.layout_store.setValue("geometry", self.saveGeometry())
        self.layout_store.setValue("state", self.saveState())
        self.layout_store.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.save_layout()
        self.recovery.forget(self.document)
        self.tools.close()
        self.validation_timer.stop()
        self.autosave_timer.stop()
        self._checks.shutdown(wait=False, cancel_futures=True)
        event.accept()
