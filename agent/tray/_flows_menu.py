"""The tray's Run menu: a search box, the favourites pinned on top, the last five flows run, every
cached flow, a Favourites submenu to pin and unpin, and Refresh flows."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLineEdit, QMenu, QWidgetAction

from agent.attended import AttendedRun, CachedFlow

RECENT = 5


def recent_flows(runs: Sequence[AttendedRun], cached: Sequence[CachedFlow], limit: int = RECENT) -> list[CachedFlow]:
    """The last `limit` distinct flows run, newest first (as cached now)."""
    by_id = {flow.workflow_id: flow for flow in cached}
    seen: list[CachedFlow] = []
    for run in runs:
        flow = by_id.get(run.flow.workflow_id)
        if flow is not None and flow not in seen:
            seen.append(flow)
        if len(seen) == limit:
            break
    return seen


class RunMenu:
    """Fills `menu` (the tray's Run submenu) each time the tray's menu is rebuilt.

    Args:
        menu: the submenu to fill.
        start: starts a flow (asks its inputs first).
        toggle_favourite: pins or unpins a workflow id.
        refresh: fetches the flows from the orchestrator (None: no Refresh entry).
    """

    def __init__(
        self,
        menu: QMenu,
        start: Callable[[CachedFlow], None],
        toggle_favourite: Callable[[str], None],
        refresh: Callable[[], None] | None,
    ) -> None:
        self.menu = menu
        self.start = start
        self.toggle_favourite = toggle_favourite
        self.refresh = refresh
        self.search = QLineEdit()
        self.search.setObjectName("flow-search")
        self.search.setPlaceholderText("Search flows…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)
        self.search.textChanged.connect(self.filter)
        # Kept across rebuilds (owned by `holder`, not the menu: `menu.clear()` only removes it).
        self.holder = QObject()
        self.box = QWidgetAction(self.holder)
        self.box.setDefaultWidget(self.search)
        self.flow_actions: list[QAction] = []

    def fill(
        self, cached: Sequence[CachedFlow], favourites: Sequence[str], recent: Sequence[CachedFlow], problem: str | None
    ) -> None:
        """Rebuild the menu's entries (the search text is kept and applied again)."""
        self.menu.clear()
        self.flow_actions = []
        self.menu.addAction(self.box)
        pinned = [flow for flow in cached if flow.workflow_id in favourites]
        for flow in pinned:
            self._flow_action(flow, "★ ")
        if recent:
            self.menu.addSection("Recent")
            for flow in recent:
                self._flow_action(flow, "")
        if pinned or recent:
            self.menu.addSection("All flows")
        for flow in cached:
            self._flow_action(flow, "")
        if not cached:
            self.menu.addAction("(no flows cached yet)").setEnabled(False)
        self.menu.addSeparator()
        self._favourites_menu(cached, favourites)
        if self.refresh is not None:
            self.menu.addAction("Refresh flows").triggered.connect(self.refresh)
        if problem:
            self.menu.addAction(f"Flows not refreshed: {problem}").setEnabled(False)
        self.filter(self.search.text())

    def _flow_action(self, flow: CachedFlow, prefix: str) -> None:
        hotkey = f"\t{flow.hotkey}" if flow.hotkey else ""
        action = self.menu.addAction(f"{prefix}{flow.name}{hotkey}")
        action.setData(flow.name)
        action.triggered.connect(lambda _checked=False, f=flow: self.start(f))
        self.flow_actions.append(action)

    def _favourites_menu(self, cached: Sequence[CachedFlow], favourites: Sequence[str]) -> None:
        pins = self.menu.addMenu("Favourites")
        pins.setObjectName("menu-favourites")
        for flow in cached:
            pin = pins.addAction(flow.name)
            pin.setCheckable(True)
            pin.setChecked(flow.workflow_id in favourites)
            pin.triggered.connect(lambda _checked=False, w=flow.workflow_id: self.toggle_favourite(w))
        pins.setEnabled(bool(cached))

    def filter(self, text: str) -> None:
        """Show only the flows whose name contains `text` (case-insensitive)."""
        wanted = text.strip().lower()
        for action in self.flow_actions:
            action.setVisible(wanted in str(action.data()).lower())

    def visible_flows(self) -> list[str]:
        """The texts of the flow entries shown now (tests and screenshots)."""
        return [action.text() for action in self.flow_actions if action.isVisible()]
