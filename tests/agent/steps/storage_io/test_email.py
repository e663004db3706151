"""E-mail attachments from and to storage URLs: sent from S3 through aiosmtpd, saved from a real
IMAP server (pymap) into an SFTP folder."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import EmailMessage

from agent.steps import files
from agent.steps.email import save_attachments, search, send
from shared.steps import StepEnvironment
from tests.agent.steps.email.mail import PDF, folder_name, message
from tests.agent.steps.email.servers import ImapServer, Smtp
from tests.agent.steps.files.servers import SftpServer


async def test_send_attaches_a_file_from_s3(env: StepEnvironment, bucket: str, smtp: Smtp) -> None:
    url = f"{bucket}/mail/invoice.pdf"
    await env.run(files.write_bytes, {"path": url, "data": base64.b64encode(PDF).decode(), "credential": "s3-test"})
    out = await env.run(
        send,
        {
            "host": "127.0.0.1",
            "port": smtp.ports["plain"],
            "security": "none",
            "sender": "robot@example.test",
            "to": "ann@example.test",
            "subject": "Invoice",
            "text": "Attached.",
            "attachments": [{"path": url, "storage_credential": "s3-test"}],
        },
    )
    raw = next(r.data for r in smtp.received if out["message_id"].encode() in r.data)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "invoice.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == PDF


async def test_save_attachments_into_an_sftp_folder(
    env: StepEnvironment, pymap: ImapServer, sftp_server: SftpServer
) -> None:
    folder = folder_name()
    admin = pymap.client()
    try:
        admin.create_folder(folder)
        admin.append(folder, message("Invoice", attachments={"inv.pdf": PDF, "note.txt": b"n"}))
    finally:
        admin.logout()
    env.secrets["mailbox"] = pymap.password
    imap = pymap.params(folder=folder)
    found = await env.run(search, imap)
    target = sftp_server.url(f"/mail/{folder}")
    saved_params = {**imap, "messages": found, "to": "files", "directory": target, "storage_credential": "sftp-test"}
    first = await env.run(save_attachments, saved_params)
    again = await env.run(save_attachments, {**saved_params, "patterns": ["*.pdf"]})

    assert [(s["filename"], s["path"]) for s in first] == [
        ("inv.pdf", f"{target}/inv.pdf"),
        ("note.txt", f"{target}/note.txt"),
    ]
    assert [s["path"] for s in again] == [f"{target}/inv-2.pdf"]  # a name taken on the server is not replaced
    stored = sftp_server.home / "mail" / folder
    assert (stored / "inv.pdf").read_bytes() == PDF == (stored / "inv-2.pdf").read_bytes()
    assert sorted(p.name for p in stored.iterdir()) == ["inv-2.pdf", "inv.pdf", "note.txt"]
