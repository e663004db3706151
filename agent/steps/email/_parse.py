"""Turn raw RFC 5322 bytes into the JSON-ready message a flow sees, and pick its attachments.

The parser runs with the `compat32` policy: headers stay strings and only the few a flow sees
are decoded (RFC 2047 words in subjects and file names). `policy.default` parses every header
into objects on access, which made fetching three times slower than the fetch itself
(bench/README.md, "IMAP").
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
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


def _decoded(value: Any) -> str:
    """A header's text with RFC 2047 encoded words decoded (`=?utf-8?q?M=C3=A4rz?=` -> `März`)."""
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:
        return " ".join(text.split())
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, UnicodeError, ValueError):  # an unknown charset or a broken word
        return text


def _addresses(msg: Message, header: str) -> list[str]:
    values = msg.get_all(header) or []
    return [addr for _name, addr in getaddresses([str(v) for v in values]) if addr]


def _date(msg: Message) -> str | None:
    raw = msg.get("Date")
    if raw is None:
        return None
    try:
        parsed: datetime = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError):
        return None
    return parsed.isoformat()


def filename_of(part: Message) -> str | None:
    """The part's file name as sent (RFC 2231 and RFC 2047 forms decoded), not yet made safe."""
    name = part.get_filename()
    return _decoded(name) if name else None


def attachments_of(msg: Message) -> list[Message]:
    """The parts a person would call attachments: marked `attachment`, or carrying a file name
    (inline images of an HTML body count too: invoices often arrive that way)."""
    return [
        part
        for part in msg.walk()
        if not part.is_multipart() and (part.get_content_disposition() == "attachment" or part.get_filename())
    ]


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        text = data.decode("utf-8", "replace")
    # Mail travels with CRLF line ends; a flow compares and writes text with \n like any string.
    return text.replace("\r\n", "\n")


def _bodies(msg: Message) -> dict[str, str | None]:
    """The first text/plain and text/html parts that are not attachments."""
    found: dict[str, str | None] = {"text": None, "html": None}
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment" or part.get_filename():
            continue
        kind = {"text/plain": "text", "text/html": "html"}.get(part.get_content_type())
        if kind is not None and found[kind] is None:
            found[kind] = _text_of(part)
    return found


def parse_message(raw: bytes, *, bodies: bool) -> tuple[Message, dict[str, Any]]:
    """The parsed message and its JSON form: headers, addresses, ISO date, bodies (if asked),
    and each attachment's filename, content type and size."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    data: dict[str, Any] = {
        "message_id": _decoded(msg.get("Message-ID")).strip() or None,
        "subject": _decoded(msg.get("Subject")),
        "from": next(iter(_addresses(msg, "From")), None),
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "reply_to": _addresses(msg, "Reply-To"),
        "date": _date(msg),
        "in_reply_to": _decoded(msg.get("In-Reply-To")).strip() or None,
    }
    if bodies:
        data.update(_bodies(msg))
    data["attachments"] = [
        {
            "filename": safe_filename(filename_of(part), f"attachment-{index + 1}"),
            "content_type": part.get_content_type(),
            "size": len(part.get_payload(decode=True) or b""),
        }
        for index, part in enumerate(attachments_of(msg))
    ]
    return msg, data


def matches(filename: str, patterns: list[str]) -> bool:
    """Whether a file name matches one of the glob patterns (any case); no patterns: all do."""
    return not patterns or any(fnmatch.fnmatch(filename.lower(), p.lower()) for p in patterns)
