"""The callers a publish would break, for the Publish dialog: "breaking change" warnings when a
sub-flow's inputs or outputs change under the workflows that call it.

`BreakingChangesList` shows the orchestrator's publish check (`POST /workflows/{id}/publish-check`):
a summary line, then each caller with the changes that break each of its calls. The dialog that
holds it calls `load(server, workflow_id)` when it opens.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from shared.client import ApiError
from studio.views.canvas._style import RUN_COLOURS
from studio.views.versions._remote import WorkflowServer

__all__ = ["BreakingChangesList"]


def _where(ref: str) -> str:
    return "draft" if ref == "draft" else f"version {ref}"


class BreakingChangesList(QWidget):
    """The publish check of one workflow's draft, caller by caller."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("breaking-changes")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Caller", "Where", "What breaks"])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)
        self.check: dict[str, Any] | None = None

    @property
    def breaking(self) -> bool:
        """Whether the last check found a caller that breaks."""
        return bool(self.check and self.check.get("breaking"))

    async def load(self, server: WorkflowServer, workflow_id: str) -> bool:
        """Ask the orchestrator and show the answer; False (the reason shown) when it refused."""
        self.summary.setText("Checking the workflows that call this one…")
        try:
            check = await asyncio.to_thread(server.publish_check, workflow_id)
        except ApiError as error:
            self.summary.setText(f"Could not check the callers: {error.message}")
            return False
        self.show_check(check)
        return True

    def show_check(self, check: dict[str, Any]) -> None:
        """Show a publish check (the API's answer)."""
        self.check = check
        self.tree.clear()
        callers = check.get("callers") or []
        broken = [c for c in callers if c.get("breaks")]
        if broken:
            self.summary.setText(
                f"Publishing changes this workflow's interface and breaks {len(broken)} of the "
                f"{len(callers)} workflow{'s' if len(callers) != 1 else ''} that call it:"
            )
            self.summary.setStyleSheet(f"color: {RUN_COLOURS['failed']}")
        else:
            calls = {0: "nothing calls it", 1: "1 workflow calls it"}.get(
                len(callers), f"{len(callers)} workflows call it"
            )
            self.summary.setText(f"No caller breaks ({calls}).")
            self.summary.setStyleSheet("")
        for caller in callers:
            breaks = caller.get("breaks") or []
            top = QTreeWidgetItem(self.tree, [caller["name"], "", f"{len(breaks)} problem(s)" if breaks else "fine"])
            if breaks:
                top.setForeground(2, QBrush(QColor(RUN_COLOURS["failed"])))
            for item in breaks:
                QTreeWidgetItem(top, ["", f"{_where(item['ref'])}, node {item['node']}", item["message"]])
            top.setExpanded(True)
        self.tree.resizeColumnToContents(0)
        self.tree.resizeColumnToContents(1)

    def lines(self) -> list[tuple[str, str, str]]:
        """What the list shows, row by row (a caller, then its breaks)."""
        out: list[tuple[str, str, str]] = []
        for index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(index)
            if top is None:
                continue
            out.append((top.text(0), top.text(1), top.text(2)))
            for number in range(top.childCount()):
                child = top.child(number)
                if child is not None:
                    out.append((child.text(0), child.text(1), child.text(2)))
        return out
