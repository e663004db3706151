"""Sign-in from the tray: e-mail, password and (when the account asks) a TOTP code.

The login runs in a worker thread (`shared.client.ApiClient.login`, blocking HTTP) while the
agent keeps running; on success the session (URL and refresh token, never the password) is kept
where `rpa login` keeps it, and the tray fetches the flows this user may run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from shared.client import ApiClient, ApiError


def switch_organisation(client: ApiClient, organisation: str) -> None:
    """Move `client`'s session to another organisation of the signed-in user (its slug).

    Raises:
        ApiError: the user is not in that organisation, or the orchestrator refused.
    """
    tokens = client.request("POST", "/auth/switch", json={"org": organisation})
    client.access_token = str(tokens["access_token"])
    client.refresh_token = str(tokens.get("refresh_token") or client.refresh_token)


class SignInDialog(QDialog):
    """Asks for the credentials and signs in; `client` and `me` are set once accepted.

    Args:
        url: the orchestrator's URL (editable).
        email: the address last used, if any.
        organisation: the organisation's slug chosen last ("": the account's first one).
    """

    def __init__(self, url: str, email: str = "", *, organisation: str = "") -> None:
        super().__init__(None, Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("sign-in")
        self.setWindowTitle("Sign in to the orchestrator")
        self.client: ApiClient | None = None
        self.me: dict[str, Any] = {}
        self.url = QLineEdit(url)
        self.email = QLineEdit(email)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.organisation = QLineEdit(organisation)
        self.organisation.setPlaceholderText("optional: its short name, e.g. acme")
        self.code = QLineEdit()
        self.code.setPlaceholderText("6 digits from your authenticator app")
        self.code.setMaxLength(8)
        self.code_label = QLabel("Code")
        form = QFormLayout()
        for label, line, name in (
            ("Orchestrator URL", self.url, "url"),
            ("E-mail", self.email, "email"),
            ("Password", self.password, "password"),
            ("Organisation", self.organisation, "organisation"),
        ):
            line.setObjectName(name)
            line.setMinimumWidth(260)
            form.addRow(label, line)
        self.code.setObjectName("code")
        form.addRow(self.code_label, self.code)
        self._show_code(False)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #d13a2f")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button = buttons.addButton("Sign in", QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.clicked.connect(lambda: asyncio.ensure_future(self.sign_in()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _show_code(self, shown: bool) -> None:
        self.code.setVisible(shown)
        self.code_label.setVisible(shown)

    async def sign_in(self) -> bool:
        """Log in with what was typed; on success keep the session and accept the dialog.

        Returns:
            Whether it signed in (else `problem` says why: refused, a code needed, unreachable).
        """
        url = self.url.text().strip()
        if not url.startswith(("http://", "https://")):
            self.problem.setText(f"orchestrator URL: {url!r} is not an http:// or https:// address")
            return False
        client = ApiClient(url)
        self.sign_in_button.setEnabled(False)
        try:
            await asyncio.to_thread(
                client.login,
                self.email.text().strip(),
                self.password.text(),
                totp_code=self.code.text().strip() or None,
            )
            organisation = self.organisation.text().strip()
            if organisation:  # a person in several organisations: a session in the one chosen
                await asyncio.to_thread(switch_organisation, client, organisation)
            me = await asyncio.to_thread(client.request, "GET", "/auth/me")
        except ApiError as exc:
            if exc.code == "mfa_required":
                self._show_code(True)
                self.problem.setText("This account needs the code from its authenticator app.")
            else:
                self.problem.setText(exc.message)
            return False
        finally:
            self.sign_in_button.setEnabled(True)
        self.password.clear()  # not kept once used
        self.code.clear()
        await asyncio.to_thread(client.save_session)
        self.client, self.me = client, dict(me)
        self.accept()
        return True
