"""The problems panel: the validator's errors and the analyser's warnings, kept current by
`LiveValidation`; a double-click selects the node (the canvas centres on the selection), and
each analyser rule can be switched off (remembered in the studio's `Settings`)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.model import RULES, FlowDocument, LiveValidation, Settings, ValidationChanged
from studio.model._validation import Checked

SETTINGS_KEY = "analyser_disabled_rules"
"""The `Settings` key holding the analyser rules switched off."""

NODE_ROLE = Qt.ItemDataRole.UserRole

OFF_THREAD_NODES = 300
"""From this many nodes the check runs in a worker thread (the UI keeps painting meanwhile)."""


def disabled_rules(settings: Settings) -> set[str]:
    """The rules switched off in `settings` (unknown ids, from an older studio, are dropped)."""
    stored = settings.get(SETTINGS_KEY, [])
    return {rule for rule in stored if rule in RULES} if isinstance(stored, list) else set()


class ProblemsPanel(QWidget):
    """Severity, rule, message and node of every problem and finding.

    Args:
        document: the open flow.
        settings: where the switched-off rules are kept (the user's settings file by default).
        validation: the document's live validation (one is made when not given; its poll runs
            on a timer here).
        off_thread_nodes: from this many nodes, check in a worker thread.
    """

    def __init__(
        self,
        document: FlowDocument,
        *,
        settings: Settings | None = None,
        validation: LiveValidation | None = None,
        off_thread_nodes: int = OFF_THREAD_NODES,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("problemsPanel")
        self.document = document
        self.settings = settings or Settings()
        self.validation = validation or LiveValidation(document, disabled_rules=disabled_rules(self.settings))
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Severity", "Rule", "Message", "Node"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 70)
        self.tree.setColumnWidth(1, 130)
        self.tree.setColumnWidth(2, 360)
        self.tree.itemDoubleClicked.connect(self.go_to)
        self.summary = QLabel(self)
        self.rules_button = QToolButton(self)
        self.rules_button.setText("Rules")
        self.rules_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.rules_menu = QMenu(self.rules_button)
        self.rule_actions: dict[str, QAction] = {}
        for rule in RULES.values():
            action = QAction(f"{rule.title} ({rule.id})", self.rules_menu)
            action.setCheckable(True)
            action.setChecked(rule.id not in self.validation.disabled_rules)
            action.toggled.connect(lambda on, rule_id=rule.id: self.set_rule(rule_id, on))
            self.rules_menu.addAction(action)
            self.rule_actions[rule.id] = action
        self.rules_button.setMenu(self.rules_menu)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.rules_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.tree)
        disconnect = document.events.connect(ValidationChanged, lambda _event: self.refresh())
        self.destroyed.connect(lambda: disconnect())
        self.timer = QTimer(self)
        self.timer.setInterval(150)
        self.off_thread_nodes = off_thread_nodes
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-validation")
        self.pending: Future[Checked] | None = None
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        worker = self.worker
        self.destroyed.connect(lambda: worker.shutdown(wait=False, cancel_futures=True))
        self.refresh()

    def tick(self) -> None:
        """The timer: take a finished check, or start one when due (small flows on this thread)."""
        validation = self.validation
        if self.pending is not None:
            if self.pending.done():
                checked, self.pending = self.pending.result(), None
                validation.apply(checked)  # dropped if the document changed meanwhile
            return
        if not validation.due():
            return
        if len(self.document.index) < self.off_thread_nodes:
            validation.run()
        else:
            self.pending = self.worker.submit(LiveValidation.check, validation.snapshot())

    def rows(self) -> list[tuple[str, str, str, str | None]]:
        """(severity, rule, message, node) of everything shown, errors first."""
        found: list[tuple[str, str, str, str | None]] = [
            ("error", p.problem.code, p.problem.message, p.node) for p in self.validation.problems
        ]
        found += [(f.severity, f.rule, f.message, f.node) for f in self.validation.findings]
        return found

    def refresh(self) -> None:
        """Redraw the list from the validation's last check."""
        self.tree.clear()
        rows = self.rows()
        for severity, rule, message, node in rows:
            item = QTreeWidgetItem([severity, rule, message, node or "(flow)"])
            item.setData(0, NODE_ROLE, node)
            item.setToolTip(2, message)
            self.tree.addTopLevelItem(item)
        errors = sum(1 for row in rows if row[0] == "error")
        self.summary.setText(f"{errors} error(s), {len(rows) - errors} warning(s)" if rows else "No problems")

    def go_to(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        """Select the node of a problem (the canvas centres on the selection)."""
        node: Any = item.data(0, NODE_ROLE)
        if isinstance(node, str) and node in self.document.index:
            self.document.selection.select([node])

    def set_rule(self, rule: str, enabled: bool) -> None:
        """Switch an analyser rule on or off, remember it, and check again now."""
        self.validation.set_rule(rule, enabled)
        self.settings.set(SETTINGS_KEY, sorted(self.validation.disabled_rules))
        self.validation.run()
