"""`email.send`: one message over SMTP (smtplib, in the step's worker thread)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from agent.steps.email._compose import Attachment, InlineImage, build_message
from agent.steps.email._errors import map_email_errors
from agent.steps.email._params import ServerParams, password_of, tls_context
from shared.errors import BusinessError
from shared.steps import context, step

__all__ = ["SendParams", "send"]

DEFAULT_PORTS = {"tls": 465, "starttls": 587, "none": 25}


def _as_list(value: Any) -> Any:
    """A single address (or a comma-separated string) is accepted where a list is."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Addresses = Annotated[list[str], BeforeValidator(_as_list)]
HeaderName = Annotated[str, Field(pattern=r"^[!-9;-~]+$")]  # RFC 5322: printable ASCII except ":"


def _one_line(value: str) -> str:
    """A header value on one line: a CR or LF would let the value add headers of its own."""
    if "\r" in value or "\n" in value:
        raise ValueError("a header value may not contain a line break")
    return value


def _as_attachments(value: Any) -> Any:
    """A file path alone is accepted where an attachment object is."""
    if isinstance(value, (str, dict)):
        value = [value]
    return [{"path": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value


class SendParams(ServerParams):
    """An SMTP server, and the message to send through it."""

    model_config = ConfigDict(extra="forbid")

    sender: str = Field(min_length=3, description='The From address: "Billing <billing@example.com>".')
    to: Addresses = Field(min_length=1, description="Recipients: a list, or one comma-separated string.")
    cc: Addresses = Field(default_factory=list, description="Copy recipients.")
    bcc: Addresses = Field(default_factory=list, description="Blind copy recipients (not in any header).")
    reply_to: Addresses = Field(default_factory=list, description="Where replies go, when not to the sender.")
    subject: str = Field("", description="The subject; {{ }} expressions are rendered from the flow's data.")
    text: str | None = Field(None, description="The plain-text body.")
    html: str | None = Field(None, description='The HTML body; inline images as <img src="cid:logo">.')
    attachments: Annotated[list[Attachment], BeforeValidator(_as_attachments)] = Field(
        default_factory=list,
        description='Files to attach: a path, {"path": "..."} or {"artifact": "..."} (a step\'s artifact output as '
        "is), with an optional filename and content_type.",
    )
    inline_images: list[InlineImage] = Field(
        default_factory=list, description='Images inside the HTML: {"cid": "logo", "path": "logo.png"}.'
    )
    headers: dict[HeaderName, Annotated[str, AfterValidator(_one_line)]] = Field(
        default_factory=dict, description='Extra headers, e.g. {"X-Ticket": "4711"}.'
    )


def _deliver(params: SendParams, message: Any, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
    port = params.port or DEFAULT_PORTS[params.security]
    server: smtplib.SMTP
    if params.security == "tls":
        server = smtplib.SMTP_SSL(params.host, port, timeout=params.timeout_s, context=tls_context(params))
    else:
        server = smtplib.SMTP(params.host, port, timeout=params.timeout_s)
    with server:
        if params.security == "starttls":
            server.starttls(context=tls_context(params))
        if params.username:
            server.login(params.username, password_of(params) or "")
        return server.send_message(message, to_addrs=recipients)


def _message(params: SendParams, artifacts_root: Path) -> EmailMessage:
    return build_message(
        sender=params.sender,
        to=params.to,
        cc=params.cc,
        reply_to=params.reply_to,
        subject=params.subject,
        text=params.text,
        html=params.html,
        attachments=params.attachments,
        inline_images=params.inline_images,
        headers=params.headers,
        artifacts_root=artifacts_root,
    )


@step(
    "email.send",
    params=SendParams,
    output="{message_id, recipients, refused}: the Message-ID header, every envelope recipient, and those the "
    "server refused (address -> answer) when others were accepted",
)
def send(params: SendParams) -> dict[str, Any]:
    """Send an e-mail over SMTP: text and/or HTML, inline images, attachments, reply-to, headers.

    The password comes from a credential named in `password_credential`. Subject and bodies are
    templates like every param: the engine renders `{{ }}` expressions from the flow's data before
    the step runs. The step fails only when no recipient was accepted.

    Example node:
        {"id": "mail", "type": "email.send", "params": {
          "host": "smtp.example.com", "security": "starttls", "username": "robot@example.com",
          "password_credential": "smtp.password", "sender": "robot@example.com",
          "to": "{{ inputs.customer_email }}", "subject": "Invoice {{ steps.invoice.output.number }}",
          "html": "<p>Hello {{ inputs.name }},</p><img src=\\"cid:logo\\">",
          "inline_images": [{"cid": "logo", "path": "logo.png"}],
          "attachments": ["{{ steps.pdf.output }}"]}}
    """
    ctx = context()
    try:
        message = _message(params, ctx.artifacts_root / ctx.execution_id)
    except ValueError as exc:  # the email package refuses a value (a line break in the subject...)
        raise BusinessError(f"cannot build the message: {exc}", kind="validation") from exc
    recipients = [*params.to, *params.cc, *params.bcc]
    with map_email_errors(f"SMTP {params.host}:{params.port or DEFAULT_PORTS[params.security]}"):
        refused = _deliver(params, message, recipients)
    ctx.log(f"sent {message['Message-ID']} to {len(recipients) - len(refused)} recipient(s)")
    return {
        "message_id": str(message["Message-ID"]),
        "recipients": recipients,
        "refused": {rcpt: f"{code} {answer.decode('utf-8', 'replace')}" for rcpt, (code, answer) in refused.items()},
    }
