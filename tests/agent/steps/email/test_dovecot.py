"""A round trip through real servers: send over SMTP (aiosmtpd, STARTTLS + AUTH), delivered into
Dovecot's maildir, then search, save attachments, mark read, move and delete over IMAP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.steps.email import delete, mark, move, save_attachments, search, send
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.email.mail import PDF
from tests.agent.steps.email.servers import PASSWORD, USER, ImapServer, Smtp, Tls, deliver_into_maildir


def root_of(server: ImapServer) -> Path:
    assert server.maildir is not None
    return server.maildir.parents[1]


def logins(log_file: Path) -> int:
    return len(re.findall(r"imap-login: Info: Login: user=<robot>", log_file.read_text()))


@pytest.fixture
def delivering(smtp: Smtp, dovecot: ImapServer) -> Iterator[Smtp]:
    smtp.deliver_to = lambda raw: deliver_into_maildir(dovecot, raw)
    yield smtp
    smtp.deliver_to = None


async def test_send_deliver_search_save_mark_move_delete(
    delivering: Smtp, dovecot: ImapServer, tls: Tls, tmp_path: Path
) -> None:
    workbook = bytes(range(256)) * 300 + b"\x00\xff" * 1000
    (tmp_path / "invoice.pdf").write_bytes(PDF)
    (tmp_path / "items.xlsx").write_bytes(workbook)
    env = StepEnvironment(
        secrets={"smtp.password": PASSWORD, "mailbox": dovecot.password}, artifacts_dir=tmp_path / "artifacts"
    )
    text = "Dear robot,\nplease book the attached invoice.\nÄÖÜ \u2013 12,50 €\n"
    sent = await env.run(
        send,
        {
            "host": "127.0.0.1",
            "port": delivering.ports["starttls"],
            "security": "starttls",
            "ca_file": str(tls.cert),
            "username": USER,
            "password_credential": "smtp.password",
            "sender": "supplier@example.test",
            "to": USER,
            "subject": "Invoice 2026-0042",
            "text": text,
            "html": "<p>Invoice <b>2026-0042</b></p>",
            "attachments": [{"path": str(tmp_path / "invoice.pdf")}, {"path": str(tmp_path / "items.xlsx")}],
        },
    )
    imap = dovecot.params(folder="INBOX")
    log_file = root_of(dovecot) / "dovecot.log"
    logins_before = logins(log_file)

    found = await env.run(search, {**imap, "unread": True, "has_attachment": True, "subject": "2026-0042"})
    assert len(found) == 1
    mail = found[0]
    assert mail["message_id"] == sent["message_id"]
    assert mail["text"] == text
    assert mail["html"] == "<p>Invoice <b>2026-0042</b></p>\n"
    assert [a["filename"] for a in mail["attachments"]] == ["invoice.pdf", "items.xlsx"]

    saved = await env.run(
        save_attachments, {**imap, "messages": mail, "to": "files", "directory": str(tmp_path / "in")}
    )
    assert (tmp_path / "in" / "invoice.pdf").read_bytes() == PDF
    assert (tmp_path / "in" / "items.xlsx").read_bytes() == workbook
    assert [s["size"] for s in saved] == [len(PDF), len(workbook)]

    await env.run(mark, {**imap, "messages": mail, "read": True})
    assert await env.run(search, {**imap, "unread": True, "subject": "2026-0042"}) == []
    await env.run(move, {**imap, "messages": mail, "to_folder": "Processed", "create": True})
    [archived] = await env.run(search, {**imap, "folder": "Processed", "subject": "2026-0042"})
    assert (archived["message_id"], archived["seen"]) == (sent["message_id"], True)
    await env.run(delete, {**imap, "folder": "Processed", "messages": archived})
    assert await env.run(search, {**imap, "folder": "Processed", "subject": "2026-0042"}) == []
    await env.aclose()

    # Seven IMAP steps, one login: the connection is kept for the execution.
    assert logins(log_file) == logins_before + 1
    assert PASSWORD not in log_file.read_text()


async def test_imap_over_implicit_tls(dovecot: ImapServer, tls: Tls, tmp_path: Path) -> None:
    env = StepEnvironment(secrets={"mailbox": dovecot.password}, artifacts_dir=tmp_path)
    params = dovecot.params(port=dovecot.tls_port, security="tls", ca_file=str(tls.cert), folder="INBOX")
    with pytest.raises(StepError) as untrusted:
        await env.run(search, {**params, "ca_file": None})
    found = await env.run(search, params)
    await env.aclose()

    assert (untrusted.value.kind, untrusted.value.retryable) == ("tls", False)
    assert isinstance(found, list)
