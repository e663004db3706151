"""The orchestrator's small IMAP client for the e-mail source, on IMAPClient (synchronous;
each call runs in a worker thread, one at a time).

Errors are translated at one boundary, `map_imap_errors`:

    ImapLost      the connection failed or dropped (refused, reset, timed out, BYE): reconnect
    SourceError   the server refused the login (retryable: the credential may be fixed in the
                  vault) or the folder does not exist (not retryable: the trigger is wrong)
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.triggers.sources._api import SourceError

__all__ = ["ImapAccount", "ImapLost", "connect", "map_imap_errors"]

Security = Literal["tls", "starttls", "none"]
DEFAULT_PORTS: dict[str, int] = {"tls": 993, "starttls": 143, "none": 143}


class ImapLost(Exception):
    """The connection to the server failed or dropped; the source reconnects with backoff."""


@dataclass(frozen=True)
class ImapAccount:
    """Where and as whom to log in. `password` comes from the vault and is never shown."""

    host: str
    port: int
    security: Security
    username: str
    password: str
    ca_file: str | None = None
    timeout_s: float = 30.0

    @property
    def where(self) -> str:
        """The server as named in messages and status lines (no user name, no password)."""
        return f"IMAP {self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        """A verifying TLS context (the system's CAs, or `ca_file` for a private CA)."""
        return ssl.create_default_context(cafile=self.ca_file)


def _imapclient() -> Any:
    try:
        import imapclient
    except ImportError:
        raise SourceError(
            "the e-mail trigger needs IMAPClient: install the server extra (pip install 'rpa-suite[server]')",
            retryable=False,
        ) from None
    return imapclient


def connect(account: ImapAccount) -> Any:
    """A logged-in IMAPClient (call inside `map_imap_errors`)."""
    imapclient = _imapclient()
    tls = account.security == "tls"
    client = imapclient.IMAPClient(
        account.host,
        port=account.port,
        ssl=tls,
        ssl_context=account.tls_context() if tls else None,
        timeout=account.timeout_s,
    )
    try:
        if account.security == "starttls":
            client.starttls(account.tls_context())
        client.login(account.username, account.password)
    except BaseException:
        with contextlib.suppress(OSError):
            client.shutdown()
        raise
    return client


def close(client: Any) -> None:
    """Log out, or drop the socket when the server is gone already."""
    try:
        client.logout()
    except Exception:  # the server may be gone; the socket closes either way
        with contextlib.suppress(Exception):
            client.shutdown()


def _translate(exc: Exception, where: str) -> Exception:
    import imaplib

    if type(exc).__name__ == "LoginError":
        return SourceError(f"{where}: the server refused the login")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SourceError(f"{where}: the server's certificate did not verify ({exc.verify_message})")
    if isinstance(exc, (imaplib.IMAP4.abort, TimeoutError, socket.timeout, OSError)):
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return ImapLost(f"{where}: {reason}")
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        lowered = text.lower()
        if "select failed" in lowered or "nonexistent" in lowered or "does not exist" in lowered:
            return SourceError(f"{where}: {text}", retryable=False)
        return SourceError(f"{where}: the server refused a command: {text}")
    return SourceError(f"{where}: {type(exc).__name__}: {exc}")


@contextmanager
def map_imap_errors(where: str) -> Iterator[None]:
    """Translate IMAPClient's, imaplib's and the network's errors (see the module docstring)."""
    try:
        yield
    except (SourceError, ImapLost):
        raise
    except Exception as exc:  # the one boundary: nothing foreign reaches the framework
        raise _translate(exc, where) from exc
