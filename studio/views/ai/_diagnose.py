"""Diagnose a failed execution: the orchestrator explains why it failed
(`POST /executions/{id}/diagnose`) and proposes a fix, shown as a diff to apply or not."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QTextBrowser, QWidget

from shared.client import ApiError
from studio.model import FlowDocument
from studio.views.ai._proposal import ProposalDialog
from studio.views.versions import WorkflowServer

__all__ = ["DiagnoseDialog"]


class DiagnoseDialog(ProposalDialog):
    """The explanation of one failed execution, and its fix as a diff against the document."""

    def __init__(
        self, document: FlowDocument, server: WorkflowServer, execution_id: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(document, f"Diagnose execution {execution_id[:8]}", parent)
        self.server = server
        self.execution_id = execution_id
        self.explanation = QTextBrowser()
        self.explanation.setMaximumHeight(160)
        self.top.addWidget(self.explanation)
        self.accept_button.setText("Apply the fix")
        self.diagnosis: dict[str, Any] | None = None

    async def diagnose(self) -> bool:
        """Ask why the execution failed; show the explanation and the fix (or why not)."""
        self.status.setText("Asking why it failed…")
        try:
            answer = await asyncio.to_thread(self.server.diagnose, self.execution_id)
        except ApiError as error:
            self.status.setText(error.message)
            return False
        self.diagnosis = answer
        failed = answer.get("failed_node") or {}
        where = f"Failed at {failed.get('id')} ({failed.get('type')})\n\n" if failed.get("id") else ""
        self.explanation.setPlainText(where + str(answer.get("explanation", "")))
        self.show_proposal(answer["flow"], ("Current", f"Fixed (from version {answer.get('version_number')})"))
        self.status.setText(
            f"{len(answer.get('patch') or [])} change(s) proposed by {answer.get('model', 'the model')}."
        )
        return True
