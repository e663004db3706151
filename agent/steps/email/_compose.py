"""Build a MIME message from a send step's params (no mail server here, so it is tested alone).

Attachments and inline images come from a local path, an artifact of the execution, or a
storage URL (`s3://`, `sftp://`...; read through `agent.steps._storage_io`).
"""

from __future__ import annotations

import mimetypes
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.steps._storage_io import is_url, open_for_read, storage_credential_field
from shared.errors import BusinessError, StepError

__all__ = ["Attachment", "InlineImage", "build_message"]


class Attachment(BaseModel):
    """A file to attach: a path on the agent, or an artifact of this execution."""

    # "ignore": a step's artifact output ({artifact, name, size, content_type}) is accepted as is.
    model_config = ConfigDict(extra="ignore")

    path: str | None = Field(None, description="A file: a local path or a storage URL (s3://, sftp://...).")
    artifact: str | None = Field(
        None, description="An artifact of this execution (the `artifact` of a step's output, e.g. a screenshot)."
    )
    filename: str | None = Field(None, description="The name the recipient sees; default: the file's own name.")
    content_type: str | None = Field(None, description="The media type; guessed from the name when not given.")
    storage_credential: str | None = storage_credential_field()

    @model_validator(mode="after")
    def _one_source(self) -> Attachment:
        if (self.path is None) == (self.artifact is None):
            raise ValueError("give exactly one of path or artifact")
        return self


class InlineImage(BaseModel):
    """An image shown inside the HTML body, referenced there as <img src="cid:CID">."""

    model_config = ConfigDict(extra="forbid")

    cid: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._@-]+$", description="The id the HTML uses: cid:logo.")
    path: str | None = Field(None, description="The image file: a local path or a storage URL.")
    artifact: str | None = Field(None, description="Or an artifact of this execution.")
    content_type: str | None = Field(None, description="The media type; guessed from the name when not given.")
    storage_credential: str | None = storage_credential_field()

    @model_validator(mode="after")
    def _one_source(self) -> InlineImage:
        if (self.path is None) == (self.artifact is None):
            raise ValueError("give exactly one of path or artifact")
        return self


def _content_of(item: Attachment | InlineImage, artifacts_root: Path) -> tuple[str, bytes]:
    """The file's name and bytes (an attachment is sent whole, so it is read whole)."""
    if item.path is not None and is_url(item.path):
        with open_for_read(item.path, item.storage_credential) as reader:
            return item.path.rstrip("/").rsplit("/", 1)[-1], reader.read()
    path = _file_of(item, artifacts_root)
    return path.name, path.read_bytes()


def _file_of(item: Attachment | InlineImage, artifacts_root: Path) -> Path:
    if item.artifact is not None:
        root = artifacts_root.resolve()
        path = (root / item.artifact).resolve()
        if not path.is_relative_to(root):
            raise BusinessError(f"artifact '{item.artifact}' is outside this execution's artifacts")
        where = f"artifact '{item.artifact}'"
    else:
        path = Path(str(item.path)).expanduser()
        where = f"file '{item.path}'"
    if not path.is_file():
        raise StepError(f"attachment {where} does not exist", kind="file_not_found", retryable=False)
    return path


def _types(name: str, given: str | None) -> tuple[str, str]:
    full = given or mimetypes.guess_type(name)[0] or "application/octet-stream"
    main, _, sub = full.partition("/")
    return main, sub or "octet-stream"


def _headers(msg: EmailMessage, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if value:
            msg[name] = ", ".join(value) if isinstance(value, list) else str(value)


def build_message(
    *,
    sender: str,
    to: list[str],
    cc: list[str],
    reply_to: list[str],
    subject: str,
    text: str | None,
    html: str | None,
    attachments: list[Attachment],
    inline_images: list[InlineImage],
    headers: dict[str, str],
    artifacts_root: Path,
) -> EmailMessage:
    """A complete message: text and/or HTML alternatives, inline images related to the HTML,
    attachments, a fresh Message-ID and Date. Bcc is not a header (it is only an envelope recipient).

    Raises:
        StepError: kind `file_not_found` for a missing attachment; `BusinessError` for an artifact
            path leaving the execution's folder.
    """
    msg = EmailMessage()
    _headers(msg, {"From": sender, "To": to, "Cc": cc, "Reply-To": reply_to, "Subject": subject})
    domain = sender.rpartition("@")[2].strip("> ") or None
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Date"] = formatdate(localtime=True)
    for name, value in headers.items():
        if name in msg:
            del msg[name]
        msg[name] = value
    if html is None and inline_images:
        raise BusinessError('inline_images need an html body that shows them (<img src="cid:...">)')
    if html is None:
        msg.set_content(text or "")
    elif text is None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
    if inline_images:
        html_part = msg if text is None else msg.get_payload()[-1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for image in inline_images:
            own, content = _content_of(image, artifacts_root)
            main, sub = _types(own, image.content_type)
            html_part.add_related(content, main, sub, cid=f"<{image.cid}>", filename=own)
    for item in attachments:
        own, content = _content_of(item, artifacts_root)
        name = item.filename or own
        main, sub = _types(name, item.content_type)
        msg.add_attachment(content, maintype=main, subtype=sub, filename=name)
    return msg
