"""`email.send` against real aiosmtpd servers: plain, STARTTLS + AUTH, implicit TLS + AUTH."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from agent.steps.email import send
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.email.servers import PASSWORD, USER, Smtp, Tls, free_port

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(range(256))


def parsed(raw: bytes) -> EmailMessage:
    # On the wire lines end in CRLF; the parser keeps them in text parts.
    msg = BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
    assert isinstance(msg, EmailMessage)
    return msg


def env(tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(secrets={"smtp.password": PASSWORD}, artifacts_dir=tmp_path / "artifacts")


def last(smtp: Smtp, message_id: str) -> Any:
    found = [r for r in smtp.received if parsed(r.data)["Message-ID"] == message_id]
    assert len(found) == 1
    return found[0]


async def test_a_plain_text_mail_reaches_the_server_with_its_message_id(smtp: Smtp, tmp_path: Path) -> None:
    out = await env(tmp_path).run(
        send,
        {
            "host": "127.0.0.1",
            "port": smtp.ports["plain"],
            "security": "none",
            "sender": "robot@example.test",
            "to": "ann@example.test, bob@example.test",
            "subject": "Report ready",
            "text": "Hello\nThe report is ready.\n",
        },
    )

    received = last(smtp, out["message_id"])
    assert received.recipients == ["ann@example.test", "bob@example.test"]
    assert out["recipients"] == ["ann@example.test", "bob@example.test"]
    assert out["refused"] == {}
    msg = parsed(received.data)
    assert msg["Subject"] == "Report ready"
    assert msg.get_content() == "Hello\nThe report is ready.\n"
    assert out["message_id"].startswith("<")
    assert out["message_id"].endswith("@example.test>")


async def test_starttls_with_login_sends_html_inline_image_attachments_headers_and_bcc(
    smtp: Smtp, tls: Tls, tmp_path: Path
) -> None:
    environment = env(tmp_path)
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    report = tmp_path / "report.csv"
    report.write_bytes(b"name;amount\nAnn;12.50\n")
    binary = bytes(range(256)) * 40
    artifact = environment.artifacts_dir / environment.execution_id / "shot" / "screen.bin"
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(binary)

    out = await environment.run(
        send,
        {
            "host": "127.0.0.1",
            "port": smtp.ports["starttls"],
            "security": "starttls",
            "ca_file": str(tls.cert),
            "username": USER,
            "password_credential": "smtp.password",
            "sender": "Robot <robot@example.test>",
            "to": ["ann@example.test"],
            "cc": ["cc@example.test"],
            "bcc": ["audit@example.test"],
            "reply_to": "desk@example.test",
            "subject": "Invoice 4711 \u00b7 März",
            "text": "See the HTML part.",
            "html": '<p>Invoice <b>4711</b></p><img src="cid:logo">',
            "inline_images": [{"cid": "logo", "path": str(logo)}],
            "attachments": [
                {"path": str(report), "filename": "report 2026.csv"},
                {"artifact": "shot/screen.bin", "name": "screen.bin", "size": len(binary)},
            ],
            "headers": {"X-Ticket": "4711"},
        },
    )

    received = last(smtp, out["message_id"])
    assert received.recipients == ["ann@example.test", "cc@example.test", "audit@example.test"]
    msg = parsed(received.data)
    assert "Bcc" not in msg
    assert "audit@example.test" not in received.data.decode()
    assert (msg["Subject"], msg["Reply-To"], msg["X-Ticket"], msg["Cc"]) == (
        "Invoice 4711 \u00b7 März",
        "desk@example.test",
        "4711",
        "cc@example.test",
    )
    assert msg.get_body(("plain",)).get_content() == "See the HTML part.\n"  # type: ignore[union-attr]
    assert 'src="cid:logo"' in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    images = [p for p in msg.walk() if p["Content-ID"] == "<logo>"]
    assert len(images) == 1
    assert images[0].get_payload(decode=True) == PNG
    files = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert files == {"report 2026.csv": report.read_bytes(), "screen.bin": binary}
    assert PASSWORD not in str(environment.logs)


async def test_implicit_tls_with_login(smtp: Smtp, tls: Tls, tmp_path: Path) -> None:
    out = await env(tmp_path).run(
        send,
        {
            "host": "127.0.0.1",
            "port": smtp.ports["tls"],
            "security": "tls",
            "ca_file": str(tls.cert),
            "username": USER,
            "password_credential": "smtp.password",
            "sender": "robot@example.test",
            "to": "ann@example.test",
            "html": "<h1>Only HTML</h1>",
        },
    )

    msg = parsed(last(smtp, out["message_id"]).data)
    assert msg.get_content_type() == "text/html"
    assert "<h1>Only HTML</h1>" in msg.get_content()


async def test_a_wrong_password_is_an_auth_error_that_is_not_retried_and_hides_the_password(
    smtp: Smtp, tls: Tls, tmp_path: Path
) -> None:
    wrong = "not-the-Pa55word"
    environment = StepEnvironment(secrets={"smtp.password": wrong}, artifacts_dir=tmp_path)
    with pytest.raises(StepError) as caught:
        await environment.run(
            send,
            {
                "host": "127.0.0.1",
                "port": smtp.ports["tls"],
                "ca_file": str(tls.cert),
                "username": USER,
                "password_credential": "smtp.password",
                "sender": "robot@example.test",
                "to": "ann@example.test",
                "text": "x",
            },
        )

    assert (caught.value.kind, caught.value.retryable) == ("auth", False)
    assert f"SMTP 127.0.0.1:{smtp.ports['tls']}" in caught.value.message
    assert wrong not in str(caught.value.to_dict())
    assert wrong not in str(environment.logs)


async def test_an_untrusted_certificate_is_a_tls_error_not_retried(smtp: Smtp, tmp_path: Path) -> None:
    with pytest.raises(StepError) as caught:
        await env(tmp_path).run(
            send,
            {
                "host": "127.0.0.1",
                "port": smtp.ports["starttls"],
                "security": "starttls",
                "sender": "robot@example.test",
                "to": "ann@example.test",
                "text": "x",
            },
        )

    assert (caught.value.kind, caught.value.retryable) == ("tls", False)
    assert "certificate" in caught.value.message


async def test_a_refused_connection_is_retryable(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(StepError) as caught:
        await env(tmp_path).run(
            send,
            {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@b.test", "to": "c@d.test"},
        )

    assert (caught.value.kind, caught.value.retryable) == ("connection", True)
    assert f"127.0.0.1:{port}" in caught.value.message


async def test_a_missing_attachment_names_the_file_before_connecting(tmp_path: Path) -> None:
    with pytest.raises(StepError) as caught:
        await env(tmp_path).run(
            send,
            {
                "host": "127.0.0.1",
                "port": free_port(),
                "security": "none",
                "sender": "a@b.test",
                "to": "c@d.test",
                "attachments": [{"path": str(tmp_path / "nope.pdf")}],
            },
        )

    assert (caught.value.kind, caught.value.retryable) == ("file_not_found", False)
    assert "nope.pdf" in caught.value.message


async def test_an_artifact_outside_the_execution_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StepError, match="outside this execution"):
        await env(tmp_path).run(
            send,
            {
                "host": "127.0.0.1",
                "security": "none",
                "sender": "a@b.test",
                "to": "c@d.test",
                "attachments": [{"artifact": "../../../etc/passwd"}],
            },
        )


async def test_refused_recipients_are_reported_and_all_refused_is_an_error(smtp: Smtp, tmp_path: Path) -> None:
    base = {"host": "127.0.0.1", "port": smtp.ports["plain"], "security": "none", "sender": "a@example.test"}
    out = await env(tmp_path).run(send, {**base, "to": ["ann@example.test", "refused@example.test"], "text": "x"})
    with pytest.raises(StepError) as caught:
        await env(tmp_path).run(send, {**base, "to": "refused@example.test", "text": "x"})

    assert last(smtp, out["message_id"]).recipients == ["ann@example.test"]
    assert out["refused"] == {"refused@example.test": "550 5.1.1 no such user"}
    assert (caught.value.kind, caught.value.retryable) == ("recipients", False)
    assert caught.value.details == {"refused": {"refused@example.test": "550 5.1.1 no such user"}}


async def test_header_injection_is_refused_before_connecting(tmp_path: Path) -> None:
    base = {"host": "127.0.0.1", "port": free_port(), "security": "none", "sender": "a@b.test", "to": "c@d.test"}
    with pytest.raises(StepError, match="line break") as in_header:
        await env(tmp_path).run(send, {**base, "headers": {"X-Ticket": "1\r\nBcc: evil@example.test"}})
    with pytest.raises(StepError) as in_name:
        await env(tmp_path).run(send, {**base, "headers": {"X Ticket:": "1"}})
    with pytest.raises(StepError, match="cannot build the message") as in_subject:
        await env(tmp_path).run(send, {**base, "subject": "Hi\nBcc: evil@example.test"})

    assert in_header.value.kind == in_name.value.kind == in_subject.value.kind == "validation"
    assert in_subject.value.retryable is False


async def test_a_plain_path_is_an_attachment(smtp: Smtp, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"alpha")
    out = await env(tmp_path).run(
        send,
        {
            "host": "127.0.0.1",
            "port": smtp.ports["plain"],
            "security": "none",
            "sender": "a@example.test",
            "to": "b@example.test",
            "attachments": str(tmp_path / "a.txt"),
        },
    )
    msg = parsed(last(smtp, out["message_id"]).data)
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in msg.iter_attachments()] == [("a.txt", b"alpha")]
