"""One execution's live view: its flow on the canvas coloured node by node as the journal
arrives, the journal and the log streaming, outputs, artifacts, transitions, and the Cancel /
Retry / Resume buttons its state allows.

The flow shown is the version the execution ran (`GET /workflows/{id}/versions/{n}`), on a
read-only canvas; nodes are coloured with the debugger's run colours (`FlowScene.set_run_state`).
The journal comes from the SSE stream in a thread (`JournalFeed`); every other call goes through
`Calls`. Nothing here blocks the Qt thread on the network.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from shared.client import ApiError
from shared.steps import StepRegistry
from studio.model import FlowDocument
from studio.views.canvas import FlowView
from studio.views.debugger import ArtifactViewer, fill_json_tree
from studio.views.monitor._lines import LinesModel
from studio.views.monitor._worker import Calls, JournalFeed
from studio.views.monitor.model import JSON, JournalFold, MonitorSource, allowed, describe, is_terminal, on_canvas

REFRESH_MS = 2000
"""How often an unfinished execution's record (state, waiting reason) is read again."""

ARTIFACT_RECHECKS_MS = (1000, 3000, 10_000)
"""When the artifacts are read again after the end: the agent uploads them after it has
journaled the end, so they may land a moment after the execution is over."""
DRAIN_BATCH = 100
"""Journal events folded per slot call: a burst of thousands is shown in slices of this size,
so the event loop keeps serving paints and clicks in between."""

_CATALOGUE: dict[str, StepRegistry] = {}
_CATALOGUE_LOCK = threading.Lock()


def step_catalogue() -> StepRegistry:
    """The steps the canvas draws nodes with, loaded once per process. Loading imports every step
    family (seconds), so it runs in a worker, never on the UI thread."""
    with _CATALOGUE_LOCK:
        if "default" not in _CATALOGUE:
            _CATALOGUE["default"] = StepRegistry.default()
        return _CATALOGUE["default"]


class ExecutionView(QWidget):
    """The live view of execution `execution_id`.

    Args:
        source: the orchestrator calls.
        execution_id: the execution shown.
        parent: the Qt parent.
        registry: the step catalogue (the studio's own); loaded in a worker when None.
    """

    retried = Signal(str)
    """The id of the execution a Retry or Resume started."""
    diagnose_requested = Signal(str, str)
    """Diagnose was pressed on a failed execution: its id and its workflow's id (the window asks
    the orchestrator's AI and shows the fix against the workflow's draft)."""
    settled = Signal(str)
    """The execution ended and its outputs, artifacts and transitions are shown (its state)."""

    def __init__(
        self,
        source: MonitorSource,
        execution_id: str,
        parent: QWidget | None = None,
        *,
        registry: StepRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.setObjectName("monitor-execution")
        self.setWindowTitle(f"Execution {execution_id[:8]}")
        self.source = source
        self.execution_id = execution_id
        self.execution: JSON | None = None
        self.fold = JournalFold()
        self.document: FlowDocument | None = None
        self._parents: dict[str, str | None] = {}
        """Each node of the flow shown -> the container it sits in (None at the top)."""
        self.canvas: FlowView | None = None
        self.stream_ended = False
        """The journal stream said `end`: every event of the ended execution has been folded."""
        self.colour_changes: list[tuple[str, str | None]] = []
        """Every node colour change in order (what a test or a replay reads)."""
        self.artifacts: list[JSON] = []
        self._end_shown = False
        self._settling = 0
        """Calls still to answer before the ended execution is fully shown (`settled`)."""
        self.calls = Calls(self)
        self.feed = JournalFeed(source, execution_id, self)
        self._build()
        self.feed.ready.connect(self._drain)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.refresh()
        self.feed.start()
        self._timer.start()

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        self.title = QLabel(f"Execution {self.execution_id[:8]}")
        self.title.setObjectName("monitor-execution-title")
        self.state_label = QLabel("…")
        self.state_label.setObjectName("monitor-execution-state")
        head.addWidget(self.title, 1)
        head.addWidget(self.state_label)
        self.buttons: dict[str, QPushButton] = {}
        for name, label in (("cancel", "Cancel"), ("retry", "Retry"), ("resume", "Resume"), ("diagnose", "Diagnose…")):
            button = QPushButton(label)
            button.setObjectName(f"monitor-{name}")
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, n=name: self.act(n))
            head.addWidget(button)
            self.buttons[name] = button
        layout.addLayout(head)
        self.message = QLabel("")
        self.message.setObjectName("monitor-execution-message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.placeholder = QLabel("Loading the flow…")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.split.addWidget(self.placeholder)
        self.split.addWidget(self._tabs())
        self.split.setSizes([600, 400])
        layout.addWidget(self.split, 1)

    def _tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.journal = LinesModel()
        self.journal_view = QListView()
        self.journal_view.setObjectName("monitor-journal")
        self.journal_view.setModel(self.journal)
        self.journal_view.setUniformItemSizes(True)
        self.log = QPlainTextEdit()
        self.log.setObjectName("monitor-log")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(20_000)
        self.outputs = QTreeWidget()
        self.outputs.setObjectName("monitor-outputs")
        self.outputs.setHeaderLabels(["Name", "Value"])
        self.outputs.setColumnWidth(0, 160)
        self.artifact_list = QListWidget()
        self.artifact_list.setObjectName("monitor-artifacts")
        self.artifact_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.artifact_list.setIconSize(QSize(96, 72))
        self.artifact_list.itemActivated.connect(self.open_artifact)
        self.transitions = QTableWidget(0, 4)
        self.transitions.setObjectName("monitor-transitions")
        self.transitions.setHorizontalHeaderLabels(["At", "From", "To", "Reason"])
        self.transitions.horizontalHeader().setStretchLastSection(True)
        for widget, label in (
            (self.journal_view, "Journal"),
            (self.log, "Log"),
            (self.outputs, "Outputs"),
            (self.artifact_list, "Artifacts"),
            (self.transitions, "Transitions"),
        ):
            self.tabs.addTab(widget, label)
        return self.tabs

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the execution's record again (state, waiting reason, outputs)."""
        self.calls.call(self.source.get_execution, self.execution_id, done=self._on_execution, failed=self._failed)

    def _on_execution(self, execution: JSON) -> None:
        first = self.execution is None
        self.execution = execution
        state = str(execution.get("state"))
        self.title.setText(f"{execution.get('workflow_name')} v{execution.get('version_number')} · {self.execution_id}")
        reason = execution.get("waiting_reason")
        self.state_label.setText(state + (f" — {reason}" if reason else ""))
        for name, on in allowed(state).items():
            self.buttons[name].setEnabled(on)
        if first:
            self.calls.call(
                self._fetch_version,
                str(execution["workflow_id"]),
                int(execution["version_number"]),
                done=self._on_version,
                failed=self._failed,
            )
        if is_terminal(state):
            self._timer.stop()
            if not self._end_shown:
                self._end_shown = True
                self._show_end(execution)

    def _fetch_version(self, workflow_id: str, number: int) -> tuple[JSON, StepRegistry]:
        """In a worker: the version, and the step catalogue to draw it with."""
        return self.source.get_version(workflow_id, number), self.registry or step_catalogue()

    def _on_version(self, fetched: tuple[JSON, StepRegistry]) -> None:
        version, registry = fetched
        raw = version.get("document")
        if not isinstance(raw, dict):
            self.placeholder.setText("This version has no flow document.")
            return
        self.document = FlowDocument(raw, registry=registry)
        self._parents = {str(ident): ref.container for ident, ref in self.document.index.nodes.items()}
        if not any(isinstance(node, dict) and isinstance(node.get("ui"), dict) for node in raw.get("nodes") or ()):
            self.document.execute("auto_layout")  # a flow written by hand or by a tool: place its nodes
        self.canvas = FlowView(self.document, read_only=True)
        self.canvas.setObjectName("monitor-canvas")
        self.split.replaceWidget(0, self.canvas)
        self.placeholder.deleteLater()
        for node, state in self.fold.states.items():
            if on_canvas(self.fold.paths.get(node, node), self._parents):
                self.canvas.flow_scene.set_run_state(node, state)
        QTimer.singleShot(0, self.canvas.fit)

    def _drain(self) -> None:
        batch, more = self.feed.take(DRAIN_BATCH)
        if more:
            QTimer.singleShot(0, self._drain)  # the rest after the loop has served other events
        lines: list[str] = []
        logs: list[str] = []
        ended = False
        for kind, data in batch:
            if kind == "journal":
                self._fold(data, lines, logs)
            elif kind == "end":
                ended = self.stream_ended = True
            elif kind == "error":
                self.message.setText(f"The journal stream stopped: {data}")
        self.journal.extend(lines)
        if lines:
            self.journal_view.scrollToBottom()
        if logs:
            self.log.appendPlainText("\n".join(logs))
        if ended:
            self.refresh()

    def _fold(self, event: JSON, lines: list[str], logs: list[str]) -> None:
        folded = self.fold.apply(event)
        lines.append(describe(event))
        for change in folded.states:
            self._colour(change.node, change.state, change.path)
        if folded.log is not None:
            log = folded.log
            logs.append(f"{log.level.upper():7} {log.path or '-'}: {log.message}")

    def _colour(self, node: str, state: str | None, path: str) -> None:
        if self.document is not None and not on_canvas(path, self._parents):
            return  # a node of a called sub-flow
        self.colour_changes.append((node, state))
        if self.canvas is not None:
            self.canvas.flow_scene.set_run_state(node, state)

    def _show_end(self, execution: JSON) -> None:
        self.outputs.clear()
        outputs = QTreeWidgetItem(self.outputs, ["outputs", ""])
        fill_json_tree(outputs, execution.get("outputs") or {})
        if execution.get("error"):
            fill_json_tree(QTreeWidgetItem(self.outputs, ["error", ""]), execution["error"])
        self.outputs.expandToDepth(0)
        self._settling = 2
        self.calls.call(
            self.source.list_transitions, self.execution_id, done=self._on_transitions, failed=self._unsettle
        )
        self.calls.call(self.source.list_artifacts, self.execution_id, done=self._on_artifacts, failed=self._unsettle)
        for delay in ARTIFACT_RECHECKS_MS:
            QTimer.singleShot(delay, self, self._recheck_artifacts)

    def _on_transitions(self, items: list[JSON]) -> None:
        self.transitions.setRowCount(len(items))
        for row, item in enumerate(items):
            at = str(item.get("at", ""))[:19]
            values = (at, item.get("from_state"), item.get("to_state"), item.get("reason"))
            for column, value in enumerate(values):
                self.transitions.setItem(row, column, QTableWidgetItem(str(value or "")))
        self._settle_if_done()

    def _on_artifacts(self, items: list[JSON]) -> None:
        self._show_artifacts(items)
        self._settle_if_done()

    def _recheck_artifacts(self) -> None:
        self.calls.call(self.source.list_artifacts, self.execution_id, done=self._show_artifacts)

    def _show_artifacts(self, items: list[JSON]) -> None:
        if [a.get("id") for a in items] == [a.get("id") for a in self.artifacts]:
            return
        self.artifacts = items
        self.artifact_list.clear()
        for artifact in items:
            item = QListWidgetItem(f"{artifact['name']} ({artifact.get('size', 0)} B)")
            item.setData(Qt.ItemDataRole.UserRole, artifact)
            self.artifact_list.addItem(item)
            if str(artifact.get("content_type", "")).startswith("image/"):
                self.calls.call(
                    self.source.download_artifact,
                    self.execution_id,
                    str(artifact["id"]),
                    done=functools.partial(self._thumbnail, item),
                    failed=self._failed,
                )

    def _thumbnail(self, item: QListWidgetItem, data: bytes) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(data):
            item.setIcon(QIcon(pixmap))

    def _unsettle(self, error: Exception) -> None:
        self._failed(error)
        self._settle_if_done()

    def _settle_if_done(self) -> None:
        self._settling -= 1
        if self._settling == 0 and self.execution is not None:
            self.settled.emit(str(self.execution.get("state")))

    # -- artifacts --------------------------------------------------------------------------

    def open_artifact(self, item: QListWidgetItem) -> None:
        """Download the artifact to a temporary file; a picture opens in the image viewer."""
        artifact: dict[str, Any] = item.data(Qt.ItemDataRole.UserRole)
        self.calls.call(
            self.source.download_artifact,
            self.execution_id,
            str(artifact["id"]),
            done=lambda data: self._show_artifact(artifact, data),
            failed=self._failed,
        )

    def _show_artifact(self, artifact: JSON, data: bytes) -> None:
        folder = Path(tempfile.mkdtemp(prefix="rpa-artifact-"))
        target = folder / Path(str(artifact["name"])).name
        target.write_bytes(data)
        if str(artifact.get("content_type", "")).startswith("image/"):
            self.viewer = ArtifactViewer(str(target), self)
            self.viewer.show()
        else:
            self.message.setText(f"Saved {artifact['name']} to {target}")

    # -- actions ----------------------------------------------------------------------------

    def act(self, name: str) -> None:
        """Cancel, retry, or resume (retry with `resume=true`) the execution; or ask for its
        diagnosis (`diagnose_requested`)."""
        if name == "diagnose":
            if self.execution is not None:
                self.diagnose_requested.emit(self.execution_id, str(self.execution.get("workflow_id")))
            return
        for button in self.buttons.values():
            button.setEnabled(False)
        if name == "cancel":
            cancel = self.source.cancel_execution
            self.calls.call(cancel, self.execution_id, done=self._on_cancelled, failed=self._failed)
        else:
            self.calls.call(
                lambda: self.source.retry_execution(self.execution_id, resume=name == "resume"),
                done=self._on_retried,
                failed=self._failed,
            )

    def _on_cancelled(self, execution: JSON) -> None:
        self.message.setText("Cancel requested" if not is_terminal(str(execution.get("state"))) else "Cancelled")
        self._on_execution({**(self.execution or {}), **execution})
        self._timer.start()

    def _on_retried(self, execution: JSON) -> None:
        self.message.setText(f"Started {execution['id']}")
        if self.execution is not None:
            self._on_execution(self.execution)
        self.retried.emit(str(execution["id"]))

    def _failed(self, error: Exception) -> None:
        text = error.message if isinstance(error, ApiError) else f"{type(error).__name__}: {error}"
        self.message.setText(text)
        if self.execution is not None:
            for name, on in allowed(str(self.execution.get("state"))).items():
                self.buttons[name].setEnabled(on)

    # -- closing ----------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop following the execution (the stream thread and pending calls)."""
        self._timer.stop()
        self.feed.stop()
        self.calls.close()
        if self.canvas is not None:
            self.canvas.close_scene()
