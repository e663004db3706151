"""One IMAP login per execution: the connection is kept in `context().resources` under a key of
account and server, found there by the next e-mail step, and logged out when the execution ends.

IMAPClient is synchronous and not thread-safe; the steps run in worker threads (parallel branches
may share a connection), so each use holds the session's lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agent.steps.email._errors import map_email_errors, require_imapclient
from agent.steps.email._params import ImapParams, password_of, tls_context
from shared.errors import StepError
from shared.steps import context

__all__ = ["ImapSession", "imap_session"]

DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}


@dataclass
class ImapSession:
    """A logged-in IMAPClient, the folder it has selected, and that folder's UIDVALIDITY."""

    client: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    folder: str | None = None
    uidvalidity: int | None = None
    readonly: bool = False

    def select(self, folder: str, *, readonly: bool = False) -> int:
        """Select `folder` (once; again only to switch folder or to gain write access)."""
        if self.folder != folder or (self.readonly and not readonly):
            try:
                info = self.client.select_folder(folder, readonly=readonly)
            except _imap_error() as exc:
                self.folder = None
                raise StepError(f"cannot open folder '{folder}': {exc}", kind="folder", retryable=False) from exc
            self.folder, self.readonly = folder, readonly
            self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        return int(self.uidvalidity or 0)

    def has(self, capability: str) -> bool:
        """Whether the server announced `capability` (MOVE, UIDPLUS...)."""
        return bool(self.client.has_capability(capability))


def _connect(params: ImapParams, port: int) -> Any:
    imapclient = require_imapclient()
    client = imapclient.IMAPClient(
        params.host,
        port=port,
        ssl=params.security == "tls",
        ssl_context=tls_context(params) if params.security == "tls" else None,
        timeout=params.timeout_s,
    )
    try:
        if params.security == "starttls":
            client.starttls(tls_context(params))
        if params.username:
            client.login(params.username, password_of(params) or "")
    except BaseException:
        with contextlib.suppress(OSError):  # a failed handshake may have closed it already
            client.shutdown()
        raise
    return client


def _open(resources: Any, key: str, params: ImapParams, port: int) -> ImapSession:
    session = ImapSession(_connect(params, port))
    try:
        resources.put(key, session, close=_close)
    except ValueError:  # a parallel branch logged in first: use its connection
        session.client.logout()
        return resources.get(key)  # type: ignore[no-any-return]
    return session


def _close(session: ImapSession) -> None:
    with session.lock:
        try:
            session.client.logout()
        except Exception:  # the server may be gone already; the socket closes either way
            session.client.shutdown()


@contextmanager
def imap_session(params: ImapParams) -> Iterator[ImapSession]:
    """The execution's connection for this account (logging in on first use), locked for the
    caller; errors inside are translated at the family's boundary. A connection that broke is
    dropped, so a retry of the step logs in afresh."""
    resources = context().resources
    port = params.port or DEFAULT_PORTS[params.security]
    key = f"email:imap:{params.username or ''}@{params.host}:{port}"
    where = f"IMAP {params.host}:{port}"
    with map_email_errors(where):
        session = resources.get(key) or _open(resources, key, params, port)
        try:
            with session.lock:
                yield session
        except (OSError, _abort_error()):
            if resources.pop(key) is not None:
                with contextlib.suppress(OSError):
                    session.client.shutdown()
            raise


def _imap_error() -> type[Exception]:
    import imaplib

    return imaplib.IMAP4.error


def _abort_error() -> type[Exception]:
    import imaplib

    return imaplib.IMAP4.abort
