"""Enrolment from the tray: an enrolment token from the orchestrator's Agents page becomes this
machine's agent identity, its key kept in the OS keyring (`agent.keystore`), as `rpa agent
enroll` does. The HTTP call runs in a worker thread; the token is never kept or shown."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from agent.cli import ENROLL_PATH, ENROLL_TIMEOUT_S, agent_version
from agent.keystore import AgentIdentity, KeystoreError, check_key_storage, save_identity
from shared.client import ApiClient, ApiError


class EnrolmentError(Exception):
    """The enrolment failed (the message says why, never the token)."""


def enrol(url: str, token: str, name: str) -> AgentIdentity:
    """Enrol this machine and store its identity and key (the key in the OS keyring).

    Blocking (HTTP): the tray calls it in a worker thread.

    Raises:
        EnrolmentError: no usable keyring (checked before the token is spent), the orchestrator
            unreachable or refusing the token, or an unexpected answer.
    """
    import httpx

    base = url.rstrip("/")
    try:
        check_key_storage()
    except KeystoreError as exc:
        raise EnrolmentError(str(exc)) from None
    hostname = socket.gethostname()
    body = {"token": token, "name": name or hostname, "hostname": hostname, "labels": [], "version": agent_version()}
    try:
        response = httpx.post(base + ENROLL_PATH, json=body, timeout=ENROLL_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise EnrolmentError(f"cannot reach the orchestrator at {base} ({type(exc).__name__})") from None
    reply: Any = response.json() if response.content else None
    if response.status_code != 201:
        error = reply.get("error") if isinstance(reply, dict) else None
        said = error.get("message") if isinstance(error, dict) else None
        raise EnrolmentError(f"{base} refused the enrolment (HTTP {response.status_code}): {said or 'no reason given'}")
    try:
        identity = AgentIdentity(
            url=base,
            agent_id=str(reply["agent_id"]),
            org_id=str(reply["org_id"]),
            name=str(reply.get("name") or body["name"]),
            labels=list(reply.get("labels", [])),
        )
        key = str(reply["agent_key"])
    except (KeyError, TypeError, ValueError):
        raise EnrolmentError(f"unexpected enrolment answer from {base}") from None
    try:
        save_identity(identity, key)
    except KeystoreError as exc:
        raise EnrolmentError(f"enrolled as agent {identity.agent_id} but its key could not be stored: {exc}") from None
    return identity


class EnrolDialog(QDialog):
    """Asks for the orchestrator URL, an enrolment token and this agent's name; `identity` is set
    once accepted."""

    def __init__(self, url: str = "", name: str = "") -> None:
        super().__init__(None, Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("enrol")
        self.setWindowTitle("Enrol this machine")
        self.identity: AgentIdentity | None = None
        self.url = QLineEdit(url)
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.name = QLineEdit(name or socket.gethostname())
        form = QFormLayout()
        for label, line, object_name in (
            ("Orchestrator URL", self.url, "url"),
            ("Enrolment token", self.token, "token"),
            ("Agent name", self.name, "name"),
        ):
            line.setObjectName(object_name)
            line.setMinimumWidth(260)
            form.addRow(label, line)
        self.problem = QLabel("")
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #d13a2f")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.enrol_button = buttons.addButton("Enrol", QDialogButtonBox.ButtonRole.AcceptRole)
        self.enrol_button.clicked.connect(lambda: asyncio.ensure_future(self.enrol()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    async def enrol(self) -> bool:
        """Enrol with what was typed; on success accept the dialog (else `problem` says why)."""
        url, token = self.url.text().strip(), self.token.text().strip()
        if not url.startswith(("http://", "https://")):
            self.problem.setText(f"orchestrator URL: {url!r} is not an http:// or https:// address")
            return False
        if not token:
            self.problem.setText("enrolment token: required (Agents page of the orchestrator)")
            return False
        self.enrol_button.setEnabled(False)
        try:
            self.identity = await asyncio.to_thread(enrol, url, token, self.name.text().strip())
        except EnrolmentError as exc:
            self.problem.setText(str(exc))
            return False
        finally:
            self.enrol_button.setEnabled(True)
            self.token.clear()  # spent or refused: not kept
        self.accept()
        return True


def enrol_with_session(client: ApiClient, name: str = "") -> AgentIdentity:
    """Enrol this machine with a one-time token made through a signed-in user's session (the
    user must be allowed to make enrolment tokens: a manager of the organisation).

    Blocking (HTTP): the tray calls it in a worker thread.

    Raises:
        EnrolmentError: the token could not be made (the API's words) or the enrolment failed.
    """
    try:
        check_key_storage()  # before a token is made that could not be used
    except KeystoreError as exc:
        raise EnrolmentError(str(exc)) from None
    hostname = socket.gethostname()
    body = {"description": f"tray sign-in on {hostname}", "expires_in_s": 300}
    try:
        made = client.request("POST", "/agents/enrolment-tokens", json=body)
    except ApiError as exc:
        raise EnrolmentError(f"this machine could not be enrolled with your account: {exc.message}") from None
    return enrol(client.url, str(made["token"]), name or hostname)
