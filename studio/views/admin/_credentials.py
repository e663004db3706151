"""Credentials: the list (names and metadata only: the API never returns a value), create,
rotate and delete. The form masks every secret field and empties it once sent."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.views.admin._base import AdminPanel, fill_table, new_table, selected_id, when
from studio.views.dashboard import OrchestratorApi

MANAGE = "credentials:manage"
KINDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "username_password": (("username", "User name", False), ("password", "Password", True)),
    "token": (("token", "Token", True),),
    "key_value": (("key", "Key", False), ("value", "Value", True)),
}
"""The value fields of each kind the studio edits: (field, label, secret)."""
COLUMNS = ("Name", "Kind", "Description", "Updated", "Rotated")


class CredentialDialog(QDialog):
    """A new credential (name, kind, description, value) or a new value for `rotating` one."""

    def __init__(self, parent: QWidget | None = None, *, rotating: dict[str, Any] | None = None) -> None:
        super().__init__(parent)
        self.rotating = rotating
        self.setWindowTitle(f"Rotate {rotating['name']}" if rotating else "New credential")
        self.name = QLineEdit()
        self.name.setPlaceholderText("erp (flows read secrets.erp)")
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.description = QLineEdit()
        self.form = QFormLayout()
        if rotating is None:
            self.form.addRow("Name", self.name)
            self.form.addRow("Kind", self.kind)
            self.form.addRow("Description", self.description)
        else:
            self.kind.setCurrentText(str(rotating["kind"]))
            self.form.addRow("Kind", QLabel(str(rotating["kind"])))
        self.fields: dict[str, QLineEdit] = {}
        self.value_rows = QFormLayout()
        self.kind.currentTextChanged.connect(self._show_fields)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c0392b;")
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(self.value_rows)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self._show_fields(self.kind.currentText())

    def _show_fields(self, kind: str) -> None:
        while self.value_rows.rowCount():
            self.value_rows.removeRow(0)
        self.fields = {}
        for field, label, secret in KINDS.get(kind, ()):
            edit = QLineEdit()
            if secret:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            self.fields[field] = edit
            self.value_rows.addRow(label, edit)

    def value(self) -> dict[str, Any]:
        """The value in the API's shape for the kind."""
        raw = {field: edit.text() for field, edit in self.fields.items()}
        if self.kind.currentText() == "key_value":
            return {"values": {raw["key"]: raw["value"]}}
        return raw

    def clear_secrets(self) -> None:
        """Forget what was typed in the value fields (once sent, or given up)."""
        for edit in self.fields.values():
            edit.clear()


class CredentialsPanel(AdminPanel):
    """The organisation's credentials; create, rotate and delete need `credentials:manage`."""

    def __init__(self, api: OrchestratorApi | None, parent: QWidget | None = None) -> None:
        super().__init__(api, parent)
        self.items: list[dict[str, Any]] = []
        self.table = new_table(COLUMNS)
        self.new_button = QPushButton("New…")
        self.rotate_button = QPushButton("Rotate…")
        self.delete_button = QPushButton("Delete")
        self.refresh_button = QPushButton("Refresh")
        self.new_button.clicked.connect(lambda: self.open_dialog())
        self.rotate_button.clicked.connect(lambda: self.open_dialog(rotate=True))
        self.delete_button.clicked.connect(self._ask_delete)
        self.refresh_button.clicked.connect(lambda: self.spawn(self.refresh()))
        self.table.itemSelectionChanged.connect(self.follow_permissions)
        bar = QHBoxLayout()
        for button in (self.new_button, self.rotate_button, self.delete_button):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        self.follow_permissions()

    def follow_permissions(self) -> None:
        """Enable what the caller's role allows (and what needs a selected row, when one is)."""
        manage = self.may(MANAGE)
        self.new_button.setEnabled(manage)
        chosen = selected_id(self.table) is not None
        self.rotate_button.setEnabled(manage and chosen)
        self.delete_button.setEnabled(manage and chosen)
        for button in (self.new_button, self.rotate_button, self.delete_button):
            button.setToolTip("" if manage else "Your role may not manage credentials")

    async def refresh(self) -> bool:
        ok = await self.load_permissions()
        self.follow_permissions()
        if not ok or self.api is None:
            return False
        items = await self.call(self.api.list_credentials)
        if items is None:
            return False
        self.items = items
        rows = [
            [c["name"], c["kind"], c["description"], when(c["updated_at"]), when(c.get("rotated_at"))] for c in items
        ]
        fill_table(self.table, rows, [str(c["id"]) for c in items])
        self.status.setText(f"{len(items)} credential(s)")
        self.follow_permissions()
        return True

    def selected(self) -> dict[str, Any] | None:
        chosen = selected_id(self.table)
        return next((c for c in self.items if str(c["id"]) == chosen), None)

    def open_dialog(self, *, rotate: bool = False) -> CredentialDialog | None:
        """Show the form (not modal to the loop: saving awaits the server)."""
        target = self.selected() if rotate else None
        if rotate and target is None:
            return None
        dialog = CredentialDialog(self, rotating=target)
        dialog.accepted.connect(lambda: self.spawn(self.submit(dialog)))
        dialog.rejected.connect(dialog.clear_secrets)
        dialog.open()
        return dialog

    async def submit(self, dialog: CredentialDialog) -> bool:
        """Send the dialog's credential (new or rotated); the value fields are emptied either way."""
        api = self.api
        if api is None:
            return False
        value = dialog.value()
        dialog.clear_secrets()
        if dialog.rotating is not None:
            done = await self.call(api.rotate_credential, str(dialog.rotating["id"]), value)
        else:
            done = await self.call(
                api.create_credential,
                dialog.name.text().strip(),
                dialog.kind.currentText(),
                value,
                description=dialog.description.text(),
            )
        if done is None:
            return False
        await self.refresh()
        self.status.setText(f"Saved {done['name']}")
        return True

    def _ask_delete(self) -> None:
        target = self.selected()
        if target is None:
            return
        answer = QMessageBox.question(self, "Delete credential", f"Delete {target['name']}? Flows using it will fail.")
        if answer == QMessageBox.StandardButton.Yes:
            self.spawn(self.delete(str(target["id"])))

    async def delete(self, credential_id: str) -> bool:
        """Delete the credential (its value is wiped on the server), then list again."""
        api = self.api
        if api is None:
            return False

        def deleted() -> bool:
            api.delete_credential(credential_id)
            return True

        if await self.call(deleted) is None:
            return False
        return await self.refresh()
