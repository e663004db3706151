"""The recorder panel: record a browser session, review the nodes, insert them into the flow.

Recording runs in the recorder process (`RecorderProcess`); each `action` event updates the
list live with the protocol's replace/insert semantics. Review removes and reorders nodes; Insert
puts them after the selected node (or the flow's last one) as ONE undoable `insert_chain` edit,
wrapped with `browser.open` / `browser.close` when the flow opens no browser yet. Fatal errors of
the process (`no_display`, a missing dependency) are shown as they come.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.model import FlowDocument
from studio.views.recorder._process import RecorderProcess
from studio.views.recorder._recording import Recording, describe, start_url


class RecorderView(QWidget):
    """Record, review and insert browser steps.

    Args:
        document: the open flow.
        recorder_args: more options for every recorder started (`--credential erp`).
        env: environment variables for the recorder process (`DISPLAY` in tests; None removes one).
        parent: the Qt parent.
    """

    recording_changed = Signal()
    """The recorded list changed (an action arrived, or the review changed it)."""
    stopped = Signal(dict)
    """The recorder's `stopped` event."""

    def __init__(
        self,
        document: FlowDocument,
        *,
        recorder_args: Sequence[str] = (),
        env: Mapping[str, str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("recorder-view")
        self.document = document
        self.recorder_args = list(recorder_args)
        self.env = dict(env or {})
        self.recording = Recording()
        self.process: RecorderProcess | None = None
        self.errors: list[dict[str, Any]] = []
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.url = QLineEdit(start_url(self.document.raw) or "https://")
        self.url.setObjectName("recorder-url")
        self.record_button = QPushButton("Record")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        row.addWidget(self.url, 1)
        row.addWidget(self.record_button)
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.status = QLabel("Not recording")
        self.status.setObjectName("recorder-status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.list = QListWidget()
        self.list.setObjectName("recorder-actions")
        layout.addWidget(self.list, 1)
        review = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.insert_button = QPushButton("Insert into flow")
        for button in (self.remove_button, self.up_button, self.down_button):
            review.addWidget(button)
        review.addStretch(1)
        review.addWidget(self.insert_button)
        layout.addLayout(review)
        self.record_button.clicked.connect(lambda: self.start())
        self.stop_button.clicked.connect(self.stop)
        self.remove_button.clicked.connect(self._remove)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.insert_button.clicked.connect(lambda: self.insert())

    # -- the process ------------------------------------------------------------------------

    def start(self, url: str | None = None, *, keep: bool = False) -> RecorderProcess:
        """Start recording at `url` (the URL field when None); `keep` keeps the nodes recorded so far."""
        if self.process is not None and self.process.running:
            return self.process
        target = url or self.url.text().strip()
        self.url.setText(target)
        if not keep:
            self.recording.clear()
            self._redraw()
        self.errors.clear()
        process = RecorderProcess(target, self.recorder_args, env=self.env, parent=self)
        process.received.connect(self._on_event)
        process.ended.connect(self._on_ended)
        self.process = process
        process.start()
        self.record_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"Starting the browser at {target}…")
        return process

    def stop(self) -> None:
        """Stop recording (the browser closes; the list stays for review)."""
        if self.process is not None:
            self.process.stop()

    def close_process(self) -> None:
        """Kill a recorder still running (the panel or the window closes)."""
        if self.process is not None:
            self.process.kill()

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            self.status.setText(f"Recording in the browser at {event.get('url')} — act, then Stop")
        elif kind == "action":
            row = self.recording.apply(event)
            self._redraw()
            self.list.setCurrentRow(row)
            self.recording_changed.emit()
        elif kind == "error":
            self.errors.append(event)
            fatal = " (the recorder stopped)" if event.get("fatal") else ""
            self.status.setText(f"Recorder error {event.get('kind')}: {event.get('message')}{fatal}")
        elif kind == "stopped":
            self.status.setText(f"Stopped: {len(self.recording)} steps to review")
            self.stopped.emit(event)

    def _on_ended(self, code: int) -> None:
        self.record_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if code != 0 and not self.errors:
            last = (self.process.stderr.strip().splitlines() or ["no message"])[-1] if self.process else ""
            self.status.setText(f"The recorder exited with code {code}: {last}")

    # -- review and insert ------------------------------------------------------------------

    def _redraw(self) -> None:
        self.list.clear()
        for node in self.recording.nodes:
            self.list.addItem(describe(node))

    def _remove(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.recording):
            self.recording.remove(row)
            self._redraw()
            self.list.setCurrentRow(min(row, len(self.recording) - 1))
            self.recording_changed.emit()

    def _move(self, offset: int) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.recording):
            target = self.recording.move(row, offset)
            self._redraw()
            self.list.setCurrentRow(target)
            self.recording_changed.emit()

    def _insert_point(self) -> str | None:
        selected = sorted(self.document.selection.ids)
        if len(selected) == 1:
            return selected[0]
        nodes = [n for n in self.document.raw.get("nodes") or () if isinstance(n, dict)]
        sources = {e.get("from") for e in self.document.raw.get("edges") or () if isinstance(e, dict)}
        last = [n["id"] for n in nodes if n.get("id") not in sources and n.get("type") != "browser.close"]
        return str(last[-1]) if last else None

    def insert(self) -> list[str]:
        """Insert the reviewed nodes into the flow (one undo step); their ids."""
        if not len(self.recording):
            self.status.setText("Nothing recorded to insert")
            return []
        nodes = list(self.recording.nodes)
        if start_url(self.document.raw) is None:
            url = self.process.url if self.process is not None else self.url.text().strip()
            nodes = [
                {"id": "open", "type": "browser.open", "params": {"url": url}},
                *nodes,
                {"id": "close", "type": "browser.close", "params": {}},
            ]
        ids: list[str] = self.document.execute("insert_chain", nodes=nodes, after=self._insert_point())
        self.document.selection.select(ids)
        self.status.setText(f"Inserted {len(ids)} steps")
        return ids


def recorder_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """The dock factory of `studio/app/_docks.py`: the recorder panel over `document`."""
    return RecorderView(document, parent=window)
