"""Params shared by the e-mail steps: how to reach and log in to a server (the studio builds
forms from them). The password is never a param: a credential is named and read at run time."""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.steps import CREDENTIAL_NAME, context

__all__ = ["ImapParams", "Security", "ServerParams", "password_of", "tls_context"]

Security = Literal["tls", "starttls", "none"]


class ServerParams(BaseModel):
    """A mail server and the account on it."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, description="The server's host name, e.g. mail.example.com.")
    port: int | None = Field(
        None, ge=1, le=65535, description="The port; default by `security`: SMTP 465/587/25, IMAP 993/143/143."
    )
    security: Security = Field(
        "tls",
        description="tls: encrypted from the start (SMTPS 465, IMAPS 993); starttls: upgraded after connecting; "
        "none: plain text (local servers only).",
    )
    username: str | None = Field(None, description="The account to log in as; none: no login (SMTP relays).")
    password_credential: str | None = Field(
        None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Name of the credential holding the password: NAME, or NAME.field (e.g. mail.password). "
        "Never the password itself.",
    )
    ca_file: str | None = Field(
        None, description="A PEM file of certificate authorities to trust besides the system's (private servers)."
    )
    verify_tls: bool = Field(True, description="Check the server's certificate and host name (keep on).")
    timeout_s: float = Field(30.0, gt=0, description="Seconds to wait for the server at each exchange.")


class ImapParams(ServerParams):
    """An IMAP account and the folder a step works in."""

    folder: str = Field("INBOX", min_length=1, description="The mailbox folder, e.g. INBOX or Invoices/2026.")


def password_of(params: ServerParams) -> str | None:
    """The password from the named credential (masked from then on), or None without one."""
    if params.password_credential is None:
        return None
    return context().secret(params.password_credential)


def tls_context(params: ServerParams) -> ssl.SSLContext:
    """The TLS settings: the system's authorities, plus `ca_file`; no checks if `verify_tls` is off."""
    ctx = ssl.create_default_context(cafile=params.ca_file)
    if not params.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
