"""Where smtplib's, imaplib's and IMAPClient's errors become `StepError`s (one boundary, like
httpx's `map_httpcore_exceptions`). Messages name the server and the action, never a password.

    StepError
    ├── kind "auth"          the server refused the login; not retryable (fix the credential)
    ├── kind "tls"           the certificate did not verify or TLS failed; not retryable
    ├── kind "recipients"    the server refused every recipient or the sender; not retryable
    ├── kind "folder"        a mailbox folder does not exist; not retryable
    ├── kind "connection"    refused, reset, timed out, dropped; retryable
    ├── kind "smtp"          any other SMTP answer: retryable for 4xx, not for 5xx
    └── kind "imap"          the server said NO/BAD to a command; not retryable
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import MissingDependency, StepError

__all__ = ["map_email_errors", "require_imapclient"]


def require_imapclient() -> Any:
    """The imapclient module, or a clear error naming the extra to install."""
    try:
        import imapclient
    except ImportError:
        raise MissingDependency("IMAPClient", extra="email") from None
    return imapclient


def _smtp_error(exc: Exception, where: str) -> StepError | None:
    import smtplib

    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return StepError(f"{where}: the server refused the login ({exc.smtp_code})", kind="auth", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {rcpt: f"{code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()}
        return StepError(
            f"{where}: every recipient was refused: {', '.join(refused)}",
            kind="recipients",
            retryable=False,
            details={"refused": refused},
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return StepError(
            f"{where}: the sender {exc.sender} was refused ({exc.smtp_code} {_text(exc.smtp_error)})",
            kind="recipients",
            retryable=False,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return StepError(f"{where}: the server closed the connection ({exc})", kind="connection", retryable=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return StepError(
            f"{where}: the server answered {code} {_text(exc.smtp_error)}",
            kind="smtp",
            retryable=400 <= code < 500,
            details={"code": code},
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return StepError(f"{where}: {exc}", kind="smtp", retryable=False)
    return None


def _imap_error(exc: Exception, where: str) -> StepError | None:
    import imaplib

    if type(exc).__name__ == "LoginError":
        return StepError(f"{where}: the server refused the login", kind="auth", retryable=False)
    if isinstance(exc, imaplib.IMAP4.abort):
        return StepError(f"{where}: the connection was lost ({exc})", kind="connection", retryable=True)
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        if "select failed" in text.lower() or "nonexistent" in text.lower() or "does not exist" in text.lower():
            return StepError(f"{where}: {text}", kind="folder", retryable=False)
        return StepError(f"{where}: the server refused the command: {text}", kind="imap", retryable=False)
    return None


def _network_error(exc: Exception, where: str) -> StepError | None:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return StepError(
            f"{where}: the server's certificate did not verify ({exc.verify_message})", kind="tls", retryable=False
        )
    if isinstance(exc, ssl.SSLError):
        return StepError(f"{where}: TLS failed ({exc.reason})", kind="tls", retryable=False)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return StepError(f"{where}: timed out", kind="connection", retryable=True)
    if isinstance(exc, socket.gaierror):
        return StepError(f"{where}: unknown host ({exc.strerror})", kind="connection", retryable=True)
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return StepError(f"{where}: {reason}", kind="connection", retryable=True)
    return None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@contextmanager
def map_email_errors(where: str) -> Iterator[None]:
    """Translate SMTP, IMAP and network errors raised inside into `StepError`s.

    Args:
        where: what was being done and with which server, e.g. `SMTP smtp.example.com:587`.

    `StepError`s raised inside pass through unchanged.
    """
    try:
        yield
    except StepError:
        raise
    except Exception as exc:  # the family's one boundary: nothing foreign reaches the engine
        error = _smtp_error(exc, where) or _imap_error(exc, where) or _network_error(exc, where)
        if error is None:
            error = StepError(f"{where}: {type(exc).__name__}: {exc}", kind="imap", retryable=False)
        raise error from exc
