"""What `email.search` makes of a raw message: decoded headers, bodies, safe attachment names."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from agent.steps.email import parse_message, safe_filename


def test_encoded_subject_and_file_names_are_decoded_and_bodies_use_newlines() -> None:
    msg = EmailMessage()
    msg["From"] = "Jörg Müller <joerg@example.test>"
    msg["To"] = "a@example.test, B <b@example.test>"
    msg["Subject"] = "Rechnung März \u2013 12,50 €"
    msg["Date"] = "Mon, 07 Dec 2026 10:30:00 +0100"
    msg.set_content("Grüße\nJörg\n", charset="utf-8")
    msg.add_alternative("<p>Grüße</p>", subtype="html")
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    assert b"=?utf-8?" in raw  # the subject travels encoded

    _parsed, data = parse_message(raw, bodies=True)

    assert data["subject"] == "Rechnung März \u2013 12,50 €"
    assert (data["from"], data["to"]) == ("joerg@example.test", ["a@example.test", "b@example.test"])
    assert data["date"] == "2026-12-07T10:30:00+01:00"
    assert data["text"] == "Grüße\nJörg\n"
    assert data["html"] == "<p>Grüße</p>\n"
    assert data["attachments"] == [{"filename": "Rechnung März.pdf", "content_type": "application/pdf", "size": 4}]


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("a\x00b;rm -rf *.pdf", "a_b_rm -rf _.pdf"),
        ("...", "attachment-1"),
        (None, "attachment-1"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
    ],
)
def test_attachment_names_are_made_safe(name: str | None, safe: str) -> None:
    assert safe_filename(name, "attachment-1") == safe
