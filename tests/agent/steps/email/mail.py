"""Messages for the e-mail tests, and a step environment holding the mailbox credential."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from shared.steps import StepEnvironment
from tests.agent.steps.email.servers import ImapServer

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def message(
    subject: str,
    *,
    sender: str = "supplier@example.test",
    text: str = "Hello\n",
    html: str | None = None,
    attachments: dict[str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "robot@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg["Date"] = "Mon, 07 Dec 2026 10:30:00 +0000"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data in (attachments or {}).items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def folder_name() -> str:
    return f"T{uuid.uuid4().hex[:10]}"


def environment(server: ImapServer, tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(secrets={"mailbox": server.password}, artifacts_dir=tmp_path / "artifacts")
