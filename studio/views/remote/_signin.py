"""The sign-in dialog: orchestrator URL, e-mail, password, and a TOTP code when the account asks.

The sign-in runs in a worker thread (blocking HTTP) so the window keeps painting; a refusal is
shown in the API's own words. The password is cleared once used and never kept.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from shared.client import ApiError
from studio.remote import Connection, Connections
from studio.views.remote._tasks import spawn


class SignInDialog(QDialog):
    """Asks for the credentials and signs in through `connections`; `connection` is set once accepted."""

    def __init__(self, connections: Connections, *, url: str = "", email: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("orchestrator-sign-in")
        self.setWindowTitle("Sign in to an orchestrator")
        self.connections = connections
        self.connection: Connection | None = None
        self.url = QLineEdit(url)
        self.url.setPlaceholderText("https://orchestrator.example.com")
        self.email = QLineEdit(email)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.code = QLineEdit()
        self.code.setPlaceholderText("6 digits from your authenticator app")
        self.code.setMaxLength(8)
        self.code_label = QLabel("Code")
        form = QFormLayout()
        for label, line, name in (
            ("Orchestrator URL", self.url, "url"),
            ("E-mail", self.email, "email"),
            ("Password", self.password, "password"),
            ("Code", self.code, "code"),
        ):
            line.setObjectName(name)
            line.setMinimumWidth(300)
            form.addRow(self.code_label if name == "code" else QLabel(label), line)
        self._show_code(False)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #d13a2f")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button = buttons.addButton("Sign in", QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.setDefault(True)
        self.sign_in_button.clicked.connect(lambda: spawn(self.sign_in()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _show_code(self, shown: bool) -> None:
        self.code.setVisible(shown)
        self.code_label.setVisible(shown)

    async def sign_in(self) -> bool:
        """Sign in with what was typed; on success accept the dialog.

        Returns:
            Whether it signed in (else `problem` says why: refused, a code needed, unreachable).
        """
        self.sign_in_button.setEnabled(False)
        self.problem.setText("")
        try:
            self.connection = await asyncio.to_thread(
                self.connections.sign_in,
                self.url.text(),
                self.email.text(),
                self.password.text(),
                totp_code=self.code.text().strip() or None,
            )
        except ApiError as exc:
            if exc.code == "mfa_required":
                self._show_code(True)
                self.code.setFocus()
                self.problem.setText("This account needs the code from its authenticator app.")
            else:
                self.problem.setText(exc.message)
            return False
        finally:
            self.sign_in_button.setEnabled(True)
        self.password.clear()
        self.code.clear()
        self.accept()
        return True
