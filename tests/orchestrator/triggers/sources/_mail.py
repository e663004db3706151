"""Mailboxes for the e-mail source tests: a folder on a real IMAP server, fed over SMTP (aiosmtpd
delivering into it) or straight into the server (IMAP APPEND for pymap, the maildir for Dovecot)."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.triggers.sources.email import EmailSourceConfig
from tests.agent.steps.email.servers import ImapServer, Smtp


@dataclass
class Mailbox:
    server: ImapServer
    folder: str
    deliver: Callable[[bytes], None]
    admin: Any
    lock: threading.Lock
    security: str = "none"
    port: int | None = None
    ca_file: str | None = None

    @property
    def secrets(self) -> dict[str, str]:
        return {"mailbox.username": self.server.username, "mailbox.password": self.server.password}

    def config(self, **extra: Any) -> EmailSourceConfig:
        values: dict[str, Any] = {
            "host": self.server.host,
            "port": self.port or self.server.port,
            "security": self.security,
            "ca_file": self.ca_file,
            "credential": "mailbox",
            "folder": self.folder,
            "poll_interval_s": 3600,
            "reconnect_initial_s": 0.2,
            "timeout_s": 10,
        }
        return EmailSourceConfig(**(values | extra))

    def admin_call(self, fn: Callable[[Any], Any]) -> Any:
        with self.lock:
            return fn(self.admin)

    def uids(self, folder: str | None = None, criteria: str = "ALL") -> list[int]:
        def run(client: Any) -> list[int]:
            client.select_folder(folder or self.folder, readonly=True)
            return sorted(int(u) for u in client.search([criteria]))

        return self.admin_call(run)

    def flags(self, uid: int) -> set[bytes]:
        def run(client: Any) -> set[bytes]:
            client.select_folder(self.folder, readonly=True)
            return set(client.get_flags([uid]).get(uid, ()))

        return self.admin_call(run)


async def send_smtp(smtp: Smtp, raw: bytes, mailbox: Mailbox) -> None:
    """Send `raw` through the aiosmtpd server, which delivers it into `mailbox`."""

    wire = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # smtplib sends bytes as they are

    def send() -> None:
        smtp.deliver_to = mailbox.deliver
        with smtplib.SMTP("127.0.0.1", smtp.ports["plain"], timeout=10) as client:
            client.sendmail("supplier@example.test", ["robot@example.test"], wire)

    await asyncio.to_thread(send)
