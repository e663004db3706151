"""Credentials, agents and enrolment tokens in the studio against a real orchestrator: the owner
manages them, an operator only reads; secrets are masked in the form and never shown after save."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit, QTableWidget

from studio.views.admin import AdminView, CredentialsPanel, admin_dock
from tests.orchestrator.conftest import TenantFactory
from tests.studio.views.dashboard.conftest import api_for, save_shot

pytestmark = pytest.mark.gui

SECRET = "Very-Secret-Pa55word"


def _cells(table: QTableWidget) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def _select(table: QTableWidget, text: str) -> None:
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == text)
    table.selectRow(row)


async def test_the_owner_creates_rotates_and_deletes_a_credential_whose_value_is_never_shown(
    qtbot: Any, live: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    panel = CredentialsPanel(api_for(live, owner.headers))
    qtbot.addWidget(panel)
    assert await panel.refresh()
    assert panel.new_button.isEnabled()
    assert not panel.rotate_button.isEnabled()  # nothing selected yet

    dialog = panel.open_dialog()
    assert dialog is not None
    dialog.name.setText("erp")
    dialog.kind.setCurrentText("username_password")
    dialog.description.setText("The ERP robot account")
    dialog.fields["username"].setText("robot")
    dialog.fields["password"].setText(SECRET)
    assert dialog.fields["password"].echoMode() == QLineEdit.EchoMode.Password
    assert dialog.fields["username"].echoMode() == QLineEdit.EchoMode.Normal
    assert await panel.submit(dialog)
    assert dialog.fields["password"].text() == ""  # forgotten once sent
    assert [row[:3] for row in _cells(panel.table)] == [["erp", "username_password", "The ERP robot account"]]
    assert SECRET not in str(_cells(panel.table))
    listed = (await live.get("/api/v1/credentials", headers=owner.headers)).json()["items"]
    assert SECRET not in str(listed)

    _select(panel.table, "erp")
    assert panel.rotate_button.isEnabled()
    rotate = panel.open_dialog(rotate=True)
    assert rotate is not None
    assert rotate.rotating is not None
    assert set(rotate.fields) == {"username", "password"}
    rotate.fields["username"].setText("robot")
    rotate.fields["password"].setText(SECRET + "-2")
    assert await panel.submit(rotate)
    assert _cells(panel.table)[0][4]  # rotated at

    bad = panel.open_dialog()
    assert bad is not None
    bad.name.setText("bad name with spaces")
    bad.kind.setCurrentText("token")
    bad.fields["token"].setText(SECRET)
    assert not await panel.submit(bad)
    assert panel.status.text()  # the API's reason
    assert SECRET not in panel.status.text()

    _select(panel.table, "erp")
    assert await panel.delete(str(panel.selected()["id"]))  # type: ignore[index]
    assert panel.table.rowCount() == 0


async def test_tokens_are_shown_once_and_agents_renamed_while_an_operator_only_reads(
    qtbot: Any, live: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner = await tenant()
    view = AdminView(api_for(live, owner.headers))
    qtbot.addWidget(view)
    panel = view.agents
    assert await panel.refresh()
    assert panel.new_token_button.isEnabled()

    dialog = panel.open_token_dialog()
    dialog.labels.setText("finance, windows")
    dialog.description.setText("Accounts PC")
    token = await panel.issue_token(dialog)
    assert token is not None
    assert token.startswith("rpa_et_")
    assert dialog.token.text() == token
    assert dialog.token.isReadOnly()
    dialog.copy()
    assert QGuiApplication.clipboard().text() == token
    assert token not in str(_cells(panel.token_table))  # the list never holds it
    assert _cells(panel.token_table)[0][:3] == ["Accounts PC", "finance, windows", "active"]

    enrolled = await live.post("/api/v1/agents/enroll", json={"token": token, "name": "pc-01", "hostname": "pc01"})
    assert enrolled.status_code == 201, enrolled.text
    spare = await panel.issue_token(panel.open_token_dialog())
    assert spare is not None
    assert await panel.refresh()
    assert [row[:4] for row in _cells(panel.agent_table)] == [["pc-01", "offline", "", "finance, windows"]]
    states = sorted(row[2] for row in _cells(panel.token_table))
    assert states == ["active", "used"]

    _select(panel.agent_table, "pc-01")
    assert panel.edit_button.isEnabled()
    edit = panel.open_agent_dialog()
    assert edit is not None
    edit.name.setText("accounts-01")
    edit.labels.setText("finance windows attended")
    assert await panel.save_agent(edit)
    assert _cells(panel.agent_table)[0][0] == "accounts-01"
    assert sorted(_cells(panel.agent_table)[0][3].split(", ")) == ["attended", "finance", "windows"]

    open_row = next(r for r, row in enumerate(_cells(panel.token_table)) if row[2] == "active")
    panel.token_table.selectRow(open_row)
    assert panel.revoke_button.isEnabled()
    panel._revoke_selected()
    await next(iter(panel.tasks))
    assert sorted(row[2] for row in _cells(panel.token_table)) == ["revoked", "used"]

    view.resize(900, 520)
    view.setCurrentIndex(1)
    view.show()
    qtbot.waitExposed(view)
    assert save_shot(view, "studio-agents.png")

    operator = await tenant(org_id=owner.org_id, role="operator")
    seen = AdminView(api_for(live, operator.headers))
    qtbot.addWidget(seen)
    assert await seen.agents.refresh()
    assert await seen.credentials.refresh()
    assert seen.agents.agent_table.rowCount() == 1
    seen.agents.agent_table.selectRow(0)
    for button in (seen.agents.edit_button, seen.agents.new_token_button, seen.credentials.new_button):
        assert not button.isEnabled()
        assert "may not" in button.toolTip()
    assert seen.agents.token_table.rowCount() == 0  # tokens are for those who manage agents


def test_the_dock_without_a_connection_asks_to_sign_in(qtbot: Any) -> None:
    dock = admin_dock(None, object())
    qtbot.addWidget(dock)
    assert dock.credentials.api is None
    assert not dock.credentials.new_button.isEnabled()
