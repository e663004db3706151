"""Turn raw RFC 5322 bytes into the JSON-ready message a flow sees, and pick its attachments."""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

__all__ = ["attachments_of", "matches", "parse_message", "safe_filename"]

_UNSAFE = re.compile(r"[^\w.\- ()+@,=]+", re.UNICODE)


def safe_filename(name: str | None, fallback: str) -> str:
    """A file name without folders, control or shell-special characters, dots at the ends or
    more than 150 characters (a mail's filename is untrusted: `../../etc/passwd`, `a\\x00.exe`)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")
    if len(base) > 150:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: 150 - len(suffix) - 1] + "." + suffix) if dot and len(suffix) <= 10 else base[:150]
    return base or fallback


def _addresses(msg: EmailMessage, header: str) -> list[str]:
    values = msg.get_all(header) or []
    return [addr for _name, addr in getaddresses([str(v) for v in values]) if addr]


def _date(msg: EmailMessage) -> str | None:
    raw = msg.get("Date")
    if raw is None:
        return None
    try:
        parsed: datetime = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return None
    return parsed.isoformat()


def attachments_of(msg: EmailMessage) -> list[EmailMessage]:
    """The parts a person would call attachments: marked `attachment`, or carrying a file name
    (inline images of an HTML body count too: invoices often arrive that way)."""
    found = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            found.append(part)
    return found


def _body(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    try:
        content = str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or lying charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    # Mail travels with CRLF line ends; a flow compares and writes text with \n like any string.
    return content.replace("\r\n", "\n")


def parse_message(raw: bytes, *, bodies: bool) -> tuple[EmailMessage, dict[str, Any]]:
    """The parsed message and its JSON form: headers, addresses, ISO date, bodies (if asked),
    and each attachment's filename, content type and size."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    data: dict[str, Any] = {
        "message_id": str(msg.get("Message-ID", "")).strip() or None,
        "subject": str(msg.get("Subject", "")),
        "from": next(iter(_addresses(msg, "From")), None),
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "reply_to": _addresses(msg, "Reply-To"),
        "date": _date(msg),
        "in_reply_to": str(msg.get("In-Reply-To", "")).strip() or None,
    }
    if bodies:
        data["text"] = _body(msg, "plain")
        data["html"] = _body(msg, "html")
    parts = attachments_of(msg)
    data["attachments"] = [
        {
            "filename": safe_filename(part.get_filename(), f"attachment-{index + 1}"),
            "content_type": part.get_content_type(),
            "size": len(part.get_payload(decode=True) or b""),
        }
        for index, part in enumerate(parts)
    ]
    return msg, data


def matches(filename: str, patterns: list[str]) -> bool:
    """Whether a file name matches one of the glob patterns (any case); no patterns: all do."""
    return not patterns or any(fnmatch.fnmatch(filename.lower(), p.lower()) for p in patterns)
