"""A raw RFC 5322 message as the payload of an e-mail event, and its attachments.

The `compat32` policy keeps headers as strings; only the few the payload carries are decoded
(RFC 2047 words in subjects and file names), which keeps parsing cheap.
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from orchestrator.triggers.sources._api import SourceAttachment

__all__ = ["ParsedMail", "identity_of", "parse_headers", "parse_mail"]

_UNSAFE = re.compile(r"[^\w.\- ()+@,=]+", re.UNICODE)


def _decoded(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:
        return " ".join(text.split())
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, UnicodeError, ValueError):  # an unknown charset or a broken word
        return text


def _safe_name(name: str | None, fallback: str) -> str:
    """A file name without folders or odd characters (a mail's file name is untrusted)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._")[:150]
    return base or fallback


def _addresses(msg: Message, header: str) -> list[str]:
    values = msg.get_all(header) or []
    return [addr for _name, addr in getaddresses([str(v) for v in values]) if addr]


def _date(msg: Message) -> str | None:
    raw = msg.get("Date")
    try:
        return parsedate_to_datetime(str(raw)).isoformat() if raw is not None else None
    except (TypeError, ValueError):
        return None


def _is_attachment(part: Message) -> bool:
    return not part.is_multipart() and (part.get_content_disposition() == "attachment" or bool(part.get_filename()))


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    try:
        text = data.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # an unknown charset name
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def parse_headers(raw: bytes) -> dict[str, Any]:
    """Message-ID, subject, sender, recipients and ISO date of a message (or of its header)."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    return {
        "message_id": _decoded(msg.get("Message-ID")).strip() or None,
        "subject": _decoded(msg.get("Subject")),
        "from": next(iter(_addresses(msg, "From")), None),
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "date": _date(msg),
    }


def identity_of(headers: dict[str, Any]) -> str:
    """What names a message across folders and UIDVALIDITY changes: its Message-ID, or for a
    message without one a digest of sender, date and subject."""
    if headers.get("message_id"):
        return str(headers["message_id"])
    text = f"{headers.get('from')}|{headers.get('date')}|{headers.get('subject')}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


class ParsedMail:
    """A whole message: `payload` (JSON-safe) and the attachments within `max_bytes` each."""

    def __init__(self, raw: bytes, *, max_bytes: int) -> None:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        self.payload: dict[str, Any] = parse_headers(raw)
        bodies: dict[str, str | None] = {"text": None, "html": None}
        files: list[dict[str, Any]] = []
        attachments: list[SourceAttachment] = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            if _is_attachment(part):
                data = part.get_payload(decode=True)
                content = data if isinstance(data, bytes) else b""
                name = _safe_name(_decoded(part.get_filename()), f"attachment-{len(files) + 1}")
                kept = len(content) <= max_bytes
                files.append({"name": name, "size": len(content), "stored": kept})
                if kept:
                    attachments.append(SourceAttachment(name, content, part.get_content_type()))
                continue
            kind = {"text/plain": "text", "text/html": "html"}.get(part.get_content_type())
            if kind is not None and bodies[kind] is None:
                bodies[kind] = _text_of(part)
        self.payload |= bodies
        self.payload["attachments"] = files
        self.attachments = tuple(attachments)

    @property
    def has_attachment(self) -> bool:
        """Whether the message carries at least one attachment (stored or not)."""
        return bool(self.payload["attachments"])


def parse_mail(raw: bytes, *, max_bytes: int) -> ParsedMail:
    """Parse a whole message (see `ParsedMail`)."""
    return ParsedMail(raw, max_bytes=max_bytes)
