"""The studio signs in to a real orchestrator (password, then the TOTP code it asks for), the
Orchestrator menu follows, the Workflows dock lists, searches and filters the organisation's
workflows, credential names reach the properties panel, and sign-out forgets it all. Writes the
screenshots of the sign-in dialog and the Workflows dock."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from PySide6.QtWidgets import QDialog

from orchestrator.security import totp
from studio.app import StudioWindow
from studio.views.remote import WorkflowsPanel
from tests.agent.keyrings import MemoryKeyring
from tests.orchestrator._identity_helpers import make_instance_admin
from tests.orchestrator.conftest import PASSWORD, Member
from tests.studio.views.remote.conftest import SHOTS, until

pytestmark = pytest.mark.gui
NOW = 1_800_000_015.0  # the middle of a 30 s TOTP step


def flow(name: str) -> dict[str, object]:
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
    }


async def test_sign_in_with_totp_browse_filter_and_sign_out(
    window: StudioWindow,
    live: httpx.AsyncClient,
    url: str,
    owner: Member,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(totp, "clock", lambda: NOW)
    secret = (await live.post("/api/v1/auth/mfa/totp", headers=owner.headers)).json()["secret"]
    confirm = {"code": totp.code_at(secret, NOW - totp.STEP_S)}
    assert (await live.post("/api/v1/auth/mfa/totp/confirm", headers=owner.headers, json=confirm)).status_code == 200
    for name, category, tags in (
        ("Invoices", "Finance", ["erp", "daily"]),
        ("Payroll", "HR", ["erp"]),
        ("Onboarding", None, ["daily"]),
    ):
        body = {"name": name, "category": category, "tags": tags, "document": flow(name)}
        created = await live.post("/api/v1/workflows", json=body, headers=owner.headers)
        assert created.status_code == 201
    onboarding = created.json()["id"]
    assert (await live.post(f"/api/v1/workflows/{onboarding}/publish", headers=owner.headers)).status_code == 201
    made = {"name": "erp", "kind": "token", "value": {"token": "t"}}
    assert (await live.post("/api/v1/credentials", json=made, headers=owner.headers)).status_code == 201

    remote = window.remote
    assert remote.menu.title() == "&Orchestrator"
    assert remote.menu in [a.menu() for a in window.menuBar().actions()]
    assert not remote.actions["publish"].isEnabled()  # not signed in yet
    panel = window.dock_widgets["Workflows"].widget()
    assert isinstance(panel, WorkflowsPanel)
    assert "Not signed in" in panel.status.text()
    assert window.credential_names() == []

    remote.actions["sign_in"].trigger()
    dialog = remote.sign_in_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert not dialog.code.isVisibleTo(dialog)
    dialog.url.setText(url)
    dialog.email.setText(owner.email)
    dialog.password.setText("not the password")
    assert await dialog.sign_in() is False
    assert "password" in dialog.problem.text().lower()  # the API's own words
    dialog.password.setText(PASSWORD)
    assert await dialog.sign_in() is False
    assert dialog.code.isVisibleTo(dialog)
    assert "authenticator" in dialog.problem.text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "studio-sign-in.png"))

    dialog.code.setText(totp.code_at(secret, NOW))
    assert await dialog.sign_in() is True
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.password.text() == ""
    await until(lambda: panel.names())
    assert remote.connection is not None
    assert remote.connection.email == owner.email
    assert remote.actions["publish"].isEnabled()
    assert window.credential_names() == ["erp"]
    assert len(memory_keyring.passwords) == 1  # the refresh token, in the keyring

    assert panel.names() == ["Invoices", "Onboarding", "Payroll"]
    assert panel.status.text() == "3 workflow(s)"
    assert [panel.tag.itemData(i) for i in range(panel.tag.count())] == [None, "daily", "erp"]
    panel.search.setText("pay")
    assert [w.name for w in await panel.refresh()] == ["Payroll"]
    panel.search.setText("")
    panel.tag.setCurrentIndex(panel.tag.findData("daily"))
    assert [w.name for w in await panel.refresh()] == ["Invoices", "Onboarding"]
    panel.category.setCurrentIndex(panel.category.findData("Finance"))
    assert [w.name for w in await panel.refresh()] == ["Invoices"]
    panel.tag.setCurrentIndex(0)
    panel.category.setCurrentIndex(0)
    await panel.refresh()
    row = panel.tree.topLevelItem(1)
    assert row is not None
    assert (row.text(0), row.text(1)) == ("Onboarding", "v1")
    window.dock_widgets["Workflows"].raise_()
    window.dock_widgets["Workflows"].resize(420, 500)
    assert window.dock_widgets["Workflows"].grab().save(str(SHOTS / "studio-workflows-dock.png"))

    panel.tree.itemDoubleClicked.emit(row, 0)  # opens the draft
    await until(lambda: window.document.source is not None)
    assert window.windowTitle().startswith("Onboarding (draft, revision 1)")
    assert window.document.read_only is None
    panel.version_requested.emit(onboarding, 1)  # the context menu's "Open version…"
    await until(lambda: window.document.read_only is not None)
    assert window.windowTitle().startswith("Onboarding (version 1, read-only)")

    await remote.sign_out()
    assert remote.connection is None
    assert memory_keyring.passwords == {}
    assert window.credential_names() == []
    current = window.dock_widgets["Workflows"].widget()  # a new document, new docks
    assert isinstance(current, WorkflowsPanel)
    assert current is remote.panel
    assert current.names() == []
    assert "Not signed in" in current.status.text()
    assert not remote.actions["publish"].isEnabled()


async def test_switching_organisation_shows_the_other_ones_workflows(
    signed_in: StudioWindow, app: FastAPI, live: httpx.AsyncClient, owner: Member
) -> None:
    remote = signed_in.remote
    body = {"name": "Invoices", "document": flow("Invoices")}
    assert (await live.post("/api/v1/workflows", json=body, headers=owner.headers)).status_code == 201
    panel = remote.panel
    assert panel is not None
    assert [w.name for w in await panel.refresh()] == ["Invoices"]
    await make_instance_admin(app, owner.user_id)
    second = (await live.post("/api/v1/orgs", json={"name": "Second Shop"}, headers=owner.headers)).json()

    switched = await remote.switch_org(second["slug"])
    assert switched is not None
    assert remote.connection == switched
    assert (switched.org_name, switched.org_id) == ("Second Shop", second["id"])
    assert panel.names() == []  # the other organisation has none
    assert remote.menu.toolTip() == switched.display_name
    assert await remote.switch_org("no-such-org") is None
    assert remote.last_message is not None
    assert remote.last_message.windowTitle() == "Cannot switch organisation"
