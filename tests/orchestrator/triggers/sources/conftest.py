"""Servers for the trigger source tests. The mail servers (pymap, Dovecot, aiosmtpd) are the
e-mail step tests' own session fixtures, imported so both suites start them the same way."""

from __future__ import annotations

from tests.agent.steps.email.conftest import dovecot, pymap, pymap_starttls, smtp, tls

__all__ = ["dovecot", "pymap", "pymap_starttls", "smtp", "tls"]
from tests.agent.steps.files.conftest import ftp_server, s3_server

__all__ += ["ftp_server", "s3_server"]
