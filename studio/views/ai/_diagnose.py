"""Diagnose a failed execution: the orchestrator explains why it failed
(`POST /executions/{id}/diagnose`) and proposes a fix, shown as a diff to apply or not.

The fix is a JSON Patch on the flow of the version that failed. It is applied to the flow being
edited, so edits made since that version stay; when it does not apply there (the draft moved on
where the patch points), the version's flow with the fix is what is proposed, and the dialog says
so.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from PySide6.QtWidgets import QTextBrowser, QWidget

from shared.client import ApiError
from studio.model import FlowDocument
from studio.views.ai._proposal import ProposalDialog
from studio.views.versions import WorkflowServer

__all__ = ["DiagnoseDialog", "patched"]


def patched(flow: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any] | None:
    """`flow` with the RFC 6902 `patch` applied, or None when it does not apply (or jsonpatch,
    of the studio extra, is missing)."""
    try:
        import jsonpatch
        import jsonpointer
    except ImportError:
        return None
    try:
        result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(flow), patch)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError):
        return None
    return result if isinstance(result, dict) else None


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
        fixed = patched(self.document.raw, answer.get("patch") or [])
        changes = f"{len(answer.get('patch') or [])} change(s) proposed by {answer.get('model', 'the model')}"
        if fixed is not None:
            self.show_proposal(fixed, ("Current", "Fixed"))
            self.status.setText(f"{changes}.")
        else:
            version = answer.get("version_number")
            self.show_proposal(answer["flow"], ("Current", f"Version {version}, fixed"))
            self.status.setText(
                f"{changes}; they do not apply to this flow as it is now, so the failed version {version} "
                "with the fix is shown (applying it replaces the steps)."
            )
        return True
