"""The monitor against a real orchestrator (embedded SQLite) and a real agent: a 3-step flow's
nodes turn green in order, a long execution is cancelled, a failed one retried and resumed, and
the list filters and follows new executions. Screenshots of both views are written."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QComboBox, QMainWindow, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from shared.client import ApiClient
from shared.steps import StepRegistry
from studio.model import FlowDocument
from studio.views.canvas import FlowScene
from studio.views.monitor import ApiSource, ExecutionView, MonitorDock, MonitorWidget
from tests.e2e._cluster import EMAIL, PASSWORD
from tests.studio.views.monitor.conftest import Cluster

pytestmark = [pytest.mark.gui, pytest.mark.slow]  # a real orchestrator and agent, as processes
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def source(cluster: Cluster) -> ApiSource:
    client = ApiClient(cluster.orchestrator.url)
    client.login(EMAIL, PASSWORD)
    return ApiSource(client)


@pytest.fixture
def painted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every run-state change the canvas makes, in order."""
    changes: list[tuple[str, str | None]] = []
    original = FlowScene.set_run_state

    def recording(scene: FlowScene, node_id: str, state: str | None) -> None:
        changes.append((node_id, state))
        original(scene, node_id, state)

    monkeypatch.setattr(FlowScene, "set_run_state", recording)
    return changes


@pytest.fixture
def open_view(qtbot: QtBot, source: ApiSource, registry: StepRegistry) -> Iterator[Any]:
    """Opens execution views with the studio's step catalogue (a window passes its own)."""
    views: list[ExecutionView] = []

    def make(execution_id: str) -> ExecutionView:
        view = ExecutionView(source, execution_id, registry=registry)
        qtbot.addWidget(view)
        view.resize(1200, 640)
        view.show()
        views.append(view)
        return view

    yield make
    for view in views:
        view.shutdown()


def state_of(view: ExecutionView) -> str:
    return str((view.execution or {}).get("state"))


def ended(view: ExecutionView, state: str) -> bool:
    """The record says `state` and the whole journal has been folded (they arrive separately)."""
    return state_of(view) == state and view.stream_ended


def outputs_of(view: ExecutionView) -> dict[str, str]:
    top = view.outputs.topLevelItem(0)
    assert isinstance(top, QTreeWidgetItem)
    return {top.child(i).text(0): top.child(i).text(1) for i in range(top.childCount())}


def test_the_nodes_turn_green_in_order(
    qtbot: QtBot, cluster: Cluster, open_view: Any, painted: list[tuple[str, str | None]], screenshots: Path
) -> None:
    ident = cluster.start("three")
    view = open_view(ident)
    with qtbot.waitSignal(view.settled, timeout=WAIT_MS) as settled:
        pass
    assert settled.args == ["succeeded"]
    qtbot.waitUntil(lambda: view.canvas is not None and view.fold.status == "succeeded", timeout=WAIT_MS)
    steps = ["greet", "shot", "bye"]
    assert view.colour_changes == [(node, state) for node in steps for state in ("running", "done")]
    assert [node for node, state in painted if state == "done"] == steps  # on the canvas, in order
    assert view.canvas is not None
    assert {n: item.run_state for n, item in view.canvas.flow_scene.nodes.items()} == dict.fromkeys(steps, "done")
    assert view.journal.rowCount() == view.fold.events == cluster.orchestrator.execution(ident)["last_seq"]
    assert outputs_of(view) == {"done": '"bye"'}
    transitions = [view.transitions.item(r, 2).text() for r in range(view.transitions.rowCount())]
    assert transitions[-1] == "succeeded"
    assert "running" in transitions
    assert {name: b.isEnabled() for name, b in view.buttons.items()} == {
        "cancel": False,
        "retry": True,
        "resume": False,
        "diagnose": False,
    }
    # the agent uploads the files after journaling the end: the view reads them again until they land
    qtbot.waitUntil(lambda: view.artifact_list.count() == 1, timeout=WAIT_MS)
    item = view.artifact_list.item(0)
    assert item.text().startswith("shot/screen.png")
    qtbot.waitUntil(lambda: not item.icon().isNull(), timeout=WAIT_MS)  # the thumbnail was downloaded
    view.artifact_list.itemActivated.emit(item)
    qtbot.waitUntil(lambda: getattr(view, "viewer", None) is not None, timeout=WAIT_MS)
    pixmap = view.viewer.image.pixmap()
    assert (pixmap.width(), pixmap.height()) == (40, 30)
    view.viewer.close()
    view.tabs.setCurrentWidget(view.journal_view)
    view.grab().save(str(screenshots / "studio-monitor-execution.png"))


def test_a_long_execution_is_cancelled(qtbot: QtBot, cluster: Cluster, open_view: Any) -> None:
    ident = cluster.start("long")
    view = open_view(ident)
    qtbot.waitUntil(lambda: view.fold.states.get("hold") == "running", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: view.buttons["cancel"].isEnabled(), timeout=WAIT_MS)
    assert not view.buttons["retry"].isEnabled()
    qtbot.mouseClick(view.buttons["cancel"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ended(view, "cancelled"), timeout=WAIT_MS)
    assert cluster.orchestrator.execution(ident)["state"] == "cancelled"
    qtbot.waitUntil(lambda: view.buttons["retry"].isEnabled(), timeout=WAIT_MS)
    assert {name: b.isEnabled() for name, b in view.buttons.items()} == {
        "cancel": False,
        "retry": True,
        "resume": True,
        "diagnose": False,
    }
    assert ("hold", "done") not in view.colour_changes
    assert "after" not in view.fold.states


def test_a_failed_execution_is_retried_and_resumed(
    qtbot: QtBot, cluster: Cluster, source: ApiSource, registry: StepRegistry
) -> None:
    monitor = MonitorWidget(source, poll_ms=0, registry=registry)
    qtbot.addWidget(monitor)
    ident = cluster.start("broken")
    view = monitor.open_execution(ident)
    try:
        qtbot.waitUntil(lambda: ended(view, "failed"), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: view.buttons["resume"].isEnabled(), timeout=WAIT_MS)
        assert view.fold.states == {"first": "done", "boom": "failed"}
        qtbot.waitUntil(lambda: view.canvas is not None, timeout=WAIT_MS)
        assert view.canvas is not None
        assert view.canvas.flow_scene.nodes["boom"].run_state == "failed"
        assert "ERROR   boom: business: no" in view.log.toPlainText()
        assert view.buttons["diagnose"].isEnabled()  # a failed execution can be diagnosed
        with qtbot.waitSignal(view.diagnose_requested, timeout=WAIT_MS) as asked:
            qtbot.mouseClick(view.buttons["diagnose"], Qt.MouseButton.LeftButton)
        assert asked.args == [ident, cluster.orchestrator.execution(ident)["workflow_id"]]
        positions = {item.pos().toTuple() for item in view.canvas.flow_scene.nodes.values()}
        assert len(positions) == 2  # laid out: the version's nodes have no positions
        with qtbot.waitSignal(monitor.opened, timeout=WAIT_MS) as opened:
            qtbot.mouseClick(view.buttons["retry"], Qt.MouseButton.LeftButton)
        retried: ExecutionView = opened.args[0]
        record = cluster.orchestrator.execution(retried.execution_id)
        assert record["parent_execution_id"] == ident
        assert record["trigger"]["type"] == "retry"
        assert record["resume_from"] is None
        qtbot.waitUntil(lambda: view.buttons["resume"].isEnabled(), timeout=WAIT_MS)
        with qtbot.waitSignal(monitor.opened, timeout=WAIT_MS) as opened:
            qtbot.mouseClick(view.buttons["resume"], Qt.MouseButton.LeftButton)
        resumed: ExecutionView = opened.args[0]
        assert cluster.orchestrator.execution(resumed.execution_id)["resume_from"] == ident
        for other in (retried, resumed):
            qtbot.waitUntil(lambda o=other: ended(o, "failed"), timeout=WAIT_MS)
        assert retried.fold.states == {"first": "done", "boom": "failed"}
        assert resumed.fold.states["boom"] == "failed"
    finally:
        monitor.shutdown()


def choose(box: QComboBox, value: str | None) -> None:
    index = box.findData(value)
    assert index >= 0, f"{value} is not offered by {box.objectName()}"
    box.setCurrentIndex(index)


def shown(monitor: MonitorWidget) -> list[dict[str, Any]]:
    return list(monitor.live.rows.rows)


def test_the_list_filters_and_follows_new_executions(
    qtbot: QtBot, cluster: Cluster, source: ApiSource, screenshots: Path
) -> None:
    finished = [cluster.start("three"), cluster.start("broken")]
    for ident in finished:
        cluster.orchestrator.wait_state(ident, {"succeeded", "failed"}, timeout=30)
    everything = cluster.api("GET", "/executions", params={"limit": 500})["items"]
    monitor = MonitorWidget(source, poll_ms=200)
    qtbot.addWidget(monitor)
    monitor.resize(1100, 420)
    monitor.show()
    try:
        qtbot.waitUntil(lambda: len(shown(monitor)) == len(everything), timeout=WAIT_MS)
        assert [row["id"] for row in shown(monitor)] == [row["id"] for row in everything]  # newest first
        assert monitor.model.rowCount() == len(everything)
        qtbot.waitUntil(lambda: monitor.agent_box.count() == 2 and monitor.workflow_box.count() == 4, timeout=WAIT_MS)

        choose(monitor.state_box, "failed")
        qtbot.waitUntil(lambda: {r["state"] for r in shown(monitor)} == {"failed"}, timeout=WAIT_MS)
        assert len(shown(monitor)) == sum(r["state"] == "failed" for r in everything)
        choose(monitor.state_box, None)

        choose(monitor.workflow_box, cluster.workflows["three"])
        qtbot.waitUntil(
            lambda: {r["workflow_name"] for r in shown(monitor)} == {"Monitor three steps"}, timeout=WAIT_MS
        )
        choose(monitor.workflow_box, None)

        choose(monitor.agent_box, cluster.agent.agent_id)
        ran = [r for r in everything if r["agent_id"] == cluster.agent.agent_id]
        qtbot.waitUntil(lambda: len(shown(monitor)) == len(ran), timeout=WAIT_MS)
        assert {r["agent_id"] for r in shown(monitor)} == {cluster.agent.agent_id}
        assert monitor.model.text(shown(monitor)[0], "agent") == "robot"
        choose(monitor.agent_box, None)

        cluster.api("POST", f"/executions/{finished[1]}/retry", json={})
        choose(monitor.trigger_box, "retry")
        qtbot.waitUntil(lambda: len(shown(monitor)) >= 1, timeout=WAIT_MS)
        assert {r["trigger"]["type"] for r in shown(monitor)} == {"retry"}
        choose(monitor.trigger_box, None)

        monitor.search.setText("broken")
        qtbot.waitUntil(
            lambda: bool(shown(monitor)) and {r["workflow_name"] for r in shown(monitor)} == {"Monitor broken"},
            timeout=WAIT_MS,
        )
        monitor.search.setText("")
        qtbot.waitUntil(lambda: len(shown(monitor)) > len(everything), timeout=WAIT_MS)

        today = QDate.currentDate()
        monitor.after_edit.setDate(today.addDays(1))  # from tomorrow: nothing yet
        qtbot.waitUntil(lambda: monitor.live.loaded_once and not shown(monitor), timeout=WAIT_MS)
        monitor.before_edit.setDate(today)  # and the days up to today, with the start cleared
        monitor.after_edit.setDate(monitor.after_edit.minimumDate())
        qtbot.waitUntil(lambda: monitor.live.loaded_once and len(shown(monitor)) > len(everything), timeout=WAIT_MS)
        assert monitor.current_filter().created_after is None
        assert monitor.current_filter().created_before is not None
        monitor.before_edit.setDate(monitor.before_edit.minimumDate())

        new = cluster.start("three")  # shown by the refresh, then followed to its end
        qtbot.waitUntil(lambda: monitor.live.rows.get(new) is not None, timeout=WAIT_MS)
        assert monitor.live.rows.index_of(new) == 0
        qtbot.waitUntil(lambda: (monitor.live.rows.get(new) or {}).get("state") == "succeeded", timeout=WAIT_MS)
        monitor.table.selectRow(0)
        monitor.grab().save(str(screenshots / "studio-monitor-list.png"))
    finally:
        monitor.shutdown()


def test_the_dock_factory_follows_the_window_or_the_saved_sign_in(
    qtbot: QtBot,
    cluster: Cluster,
    source: ApiSource,
    registry: StepRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = importlib.import_module("studio.views.monitor").monitor_dock  # as `_docks.py` loads it
    document = FlowDocument.new("Any", registry=registry)
    window = QMainWindow()
    qtbot.addWidget(window)
    window.api_client = source.client  # type: ignore[attr-defined]  # what a signed-in window carries
    dock = factory(document, window)
    assert isinstance(dock, MonitorDock)
    assert dock.monitor.registry is registry  # execution views draw with the window's catalogue
    qtbot.waitUntil(lambda: len(dock.monitor.live.rows) > 0, timeout=WAIT_MS)
    assert not dock.prompt.isVisibleTo(dock)
    dock.monitor.shutdown()

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RPA_URL", raising=False)
    monkeypatch.delenv("RPA_TOKEN", raising=False)
    plain = QMainWindow()  # a window with no orchestrator of its own
    qtbot.addWidget(plain)
    bare = factory(document, plain)
    assert bare.prompt.isVisibleTo(bare)
    assert not bare.monitor.isVisibleTo(bare)
    bare.connect_button.click()  # no `rpa login` session here
    assert bare.prompt.text().startswith("No saved sign-in")
    assert not bare.monitor.isVisibleTo(bare)
    monkeypatch.setenv("RPA_URL", cluster.orchestrator.url)
    monkeypatch.setenv("RPA_TOKEN", source.client.access_token)
    bare.connect_button.click()
    qtbot.waitUntil(lambda: len(bare.monitor.live.rows) > 0, timeout=WAIT_MS)
    assert bare.monitor.isVisibleTo(bare)
    bare.monitor.shutdown()


def test_calls_from_many_threads_refresh_an_expired_token_once(cluster: Cluster) -> None:
    client = ApiClient(cluster.orchestrator.url)
    client.login(EMAIL, PASSWORD)
    source = ApiSource(client)
    first_refresh = client.refresh_token
    client.access_token = "expired"  # as after the access token's lifetime
    with ThreadPoolExecutor(max_workers=4) as pool:
        pages = list(pool.map(lambda _: source.list_executions({"limit": 1}), range(8)))
    assert all(len(page["items"]) == 1 for page in pages)
    assert client.refresh_token != first_refresh  # refreshed (the token rotates), and only once:
    assert client.request("GET", "/auth/me")["email"] == EMAIL  # the rotated token still works
    client.access_token = "expired"
    kinds = [kind for kind, _ in source.stream_execution(pages[0]["items"][0]["id"], follow=False)]
    assert kinds[-1] == "end"
    assert "journal" in kinds
