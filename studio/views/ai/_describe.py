"""Describe a flow: the orchestrator's flow builder (`POST /ai/flows`) proposes one from a
sentence, or a change to the flow being edited; the proposal is a diff to accept or reject."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPlainTextEdit, QPushButton, QWidget

from shared.client import ApiError
from studio.model import FlowDocument
from studio.views.ai._proposal import ProposalDialog
from studio.views.versions import WorkflowServer

__all__ = ["DescribeFlowDialog"]


class DescribeFlowDialog(ProposalDialog):
    """ "Describe a flow…": a description in, a proposed flow out, shown as a diff."""

    def __init__(self, document: FlowDocument, server: WorkflowServer, parent: QWidget | None = None) -> None:
        super().__init__(document, "Describe a flow", parent)
        self.server = server
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText("What should the flow do? e.g. “Open the ERP, export March's invoices…”")
        self.description.setMaximumHeight(100)
        self.change_current = QCheckBox("Change the current flow (send it along)")
        self.change_current.setChecked(bool(document.index.nodes))
        self.propose_button = QPushButton("Propose")
        row = QHBoxLayout()
        row.addWidget(self.change_current, 1)
        row.addWidget(self.propose_button)
        self.top.addWidget(self.description)
        self.top.addLayout(row)
        self.propose_button.clicked.connect(lambda: asyncio.ensure_future(self.propose()))

    async def propose(self) -> bool:
        """Ask the flow builder; show its proposal as a diff (or the reason it could not)."""
        text = self.description.toPlainText().strip()
        if not text:
            self.status.setText("Describe what the flow should do first.")
            return False
        current = self.document.raw if self.change_current.isChecked() else None
        self.propose_button.setEnabled(False)
        self.status.setText("Asking the flow builder…")
        try:
            answer = await asyncio.to_thread(self.server.build_flow, text, current)
        except ApiError as error:
            self.status.setText(error.message)
            return False
        finally:
            self.propose_button.setEnabled(True)
        view = self.show_proposal(answer["flow"])
        diff = view.diff
        counts = ", ".join(f"{len(diff.ids(s))} {s}" for s in ("added", "removed", "changed") if diff.ids(s))
        self.status.setText(f"Proposed by {answer.get('model', 'the model')}: {counts or 'no change'}.")
        return True
