"""A flow the orchestrator's AI proposed, shown as a diff against the document, to accept or reject.

Accepting is one `replace_flow` command: the nodes, edges, inputs, outputs and variables become
the proposal's (the flow's name and settings stay), and one undo brings the document back.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.model import FlowDocument, with_positions
from studio.views.versions import DiffView

__all__ = ["ProposalDialog"]


class ProposalDialog(QDialog):
    """The frame of the AI dialogs: a question part on top, the proposal's diff, Accept / Reject."""

    proposal_accepted = Signal()

    def __init__(self, document: FlowDocument, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.document = document
        self.proposal: dict[str, Any] | None = None
        self.diff_view: DiffView | None = None
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Replace the flow's steps with the proposal (undo brings them back)")
        self.reject_button = QPushButton("Reject")
        self.accept_button.setEnabled(False)
        self.top = QVBoxLayout()
        self.diff_area = QVBoxLayout()
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.reject_button)
        buttons.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.addLayout(self.top)
        layout.addLayout(self.diff_area, 1)
        layout.addLayout(buttons)
        self.accept_button.clicked.connect(self.accept_proposal)
        self.reject_button.clicked.connect(self.reject)
        self.resize(1100, 750)

    def show_proposal(self, flow: dict[str, Any], titles: tuple[str, str] = ("Current", "Proposed")) -> DiffView:
        """Show `flow` as a diff against the document, and allow Accept (nodes the proposal
        left without a position are placed first: that is how they are drawn and accepted)."""
        flow = with_positions(flow, self.document.registry)
        if self.diff_view is not None:
            self.diff_area.removeWidget(self.diff_view)
            self.diff_view.close_scene()
            self.diff_view.deleteLater()
        self.proposal = flow
        view = DiffView(self.document.raw, flow, titles=titles, registry=self.document.registry)
        self.diff_area.addWidget(view)
        view.fit()
        self.diff_view = view
        self.accept_button.setEnabled(True)
        return view

    def accept_proposal(self) -> None:
        """Apply the proposal to the document (one undoable edit) and close."""
        if self.proposal is None:
            return
        self.document.execute("replace_flow", document=self.proposal)
        self.proposal_accepted.emit()
        self.accept()
