"""Steps that act on messages found by `email.search`: save attachments, mark, move, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from agent.steps import _storage_io as storage_io
from agent.steps._storage_io import storage_credential_field
from agent.steps.email._params import ImapParams
from agent.steps.email._parse import attachments_of, filename_of, matches, parse_message, safe_filename
from agent.steps.email._session import ImapSession, imap_session
from agent.steps.email._uids import MessageRefs, check_uidvalidity, uids_of
from shared.errors import BusinessError, StepError
from shared.steps import context, step

__all__ = ["delete", "mark", "move", "save_attachments"]


class MessagesParams(ImapParams):
    """An IMAP folder and messages in it."""

    messages: MessageRefs


def _selected(session: ImapSession, params: MessagesParams, *, readonly: bool = False) -> list[int]:
    current = session.select(params.folder, readonly=readonly)
    check_uidvalidity(params.messages, params.folder, current)
    return uids_of(params.messages)


class SaveParams(MessagesParams):
    """Where the attachments of the messages go."""

    to: Literal["files", "artifacts"] = Field(
        "artifacts", description="artifacts: kept with the execution (uploaded at its end); files: into `directory`."
    )
    directory: str | None = Field(
        None, description="files: the folder to save into (created if missing): a local path or a storage URL."
    )
    storage_credential: str | None = storage_credential_field()
    patterns: list[str] = Field(
        default_factory=list, description='Only attachments whose name matches one of these globs, e.g. ["*.pdf"].'
    )

    @model_validator(mode="after")
    def _directory_for_files(self) -> SaveParams:
        if self.to == "files" and not self.directory:
            raise ValueError("to 'files' needs a directory")
        return self


def _unique(folder: str, name: str, credential: str | None) -> str:
    """`folder/name`, or `folder/stem-2.ext` ... when taken (on disk or on the storage)."""
    base = folder.rstrip("/")
    target = f"{base}/{name}"
    stem, dot, suffix = name.rpartition(".")
    counter = 1
    while storage_io.exists(target, credential):
        counter += 1
        target = f"{base}/{stem}-{counter}.{suffix}" if dot else f"{base}/{name}-{counter}"
    return target


def _save_one(params: SaveParams, uid: int, name: str, part: Any) -> dict[str, Any]:
    payload: bytes = part.get_payload(decode=True) or b""
    entry: dict[str, Any] = {"uid": uid, "filename": name, "content_type": part.get_content_type()}
    if params.to == "artifacts":
        saved = context().save_artifact(name, payload, content_type=part.get_content_type())
        return {**entry, "size": saved["size"], "artifact": saved["artifact"]}
    folder = str(params.directory)
    if not storage_io.is_url(folder):
        folder = str(Path(folder).expanduser())
    try:
        target = _unique(folder, name, params.storage_credential)
        with storage_io.open_for_write(target, params.storage_credential, overwrite=False) as writer:
            writer.write(payload)
    except OSError as exc:  # a local file problem, not the server's: keep it apart from connection errors
        raise StepError(
            f"cannot save attachment '{name}' into '{folder}': {exc.strerror or exc}", kind="file", retryable=False
        ) from exc
    return {**entry, "size": len(payload), "path": storage_io.display(target)}


@step(
    "email.save_attachments",
    params=SaveParams,
    output="a list of saved files: {uid, filename, content_type, size, artifact | path}",
)
def save_attachments(params: SaveParams) -> list[dict[str, Any]]:
    """Save the attachments of messages as artifacts of the execution or as files.

    File names come from the mail and are untrusted: folders, control and special characters are
    removed, and a name already taken gets a -2, -3... suffix, so nothing is overwritten.

    Example node:
        {"id": "save", "type": "email.save_attachments", "params": {
          "host": "imap.example.com", "username": "invoices@example.com",
          "password_credential": "mailbox.password", "messages": "{{ item }}",
          "patterns": ["*.pdf"], "to": "files", "directory": "inbox/{{ item.uid }}"}}
    """
    saved: list[dict[str, Any]] = []
    with imap_session(params) as session:
        uids = _selected(session, params, readonly=True)
        fetched = session.client.fetch(uids, ["BODY.PEEK[]"])
        for uid in uids:
            if uid not in fetched:
                raise BusinessError(f"message UID {uid} is not in folder '{params.folder}' (moved or deleted?)")
            msg, _data = parse_message(fetched[uid][b"BODY[]"], bodies=False)
            for index, part in enumerate(attachments_of(msg)):
                name = safe_filename(filename_of(part), f"attachment-{index + 1}")
                if matches(name, params.patterns):
                    saved.append(_save_one(params, uid, name, part))
    context().log(f"saved {len(saved)} attachment(s) from {len(uids)} message(s)")
    return saved


class MarkParams(MessagesParams):
    """What to mark the messages as; flags not given stay as they are."""

    read: bool | None = Field(None, description="true: mark read (\\Seen); false: mark unread.")
    flagged: bool | None = Field(None, description="true: flag (\\Flagged, a star); false: remove the flag.")

    @model_validator(mode="after")
    def _something(self) -> MarkParams:
        if self.read is None and self.flagged is None:
            raise ValueError("give read and/or flagged")
        return self


@step("email.mark", params=MarkParams, output="{folder, uids}: the messages marked")
def mark(params: MarkParams) -> dict[str, Any]:
    """Mark messages read or unread, flagged or not.

    Example node:
        {"id": "done", "type": "email.mark", "params": {
          "host": "imap.example.com", "username": "invoices@example.com",
          "password_credential": "mailbox.password", "messages": "{{ item }}", "read": true}}
    """
    with imap_session(params) as session:
        uids = _selected(session, params)
        for flag, wanted in ((b"\\Seen", params.read), (b"\\Flagged", params.flagged)):
            if wanted is True:
                session.client.add_flags(uids, [flag], silent=True)
            elif wanted is False:
                session.client.remove_flags(uids, [flag], silent=True)
    return {"folder": params.folder, "uids": uids}


class MoveParams(MessagesParams):
    """Where the messages go."""

    to_folder: str = Field(min_length=1, description="The folder to move them into, e.g. Processed.")
    create: bool = Field(False, description="Create the folder when it does not exist.")


@step("email.move", params=MoveParams, output="{folder, to_folder, uids}: the messages moved (old UIDs)")
def move(params: MoveParams) -> dict[str, Any]:
    """Move messages to another folder (IMAP MOVE, or copy + delete on servers without it).

    Example node:
        {"id": "archive", "type": "email.move", "params": {
          "host": "imap.example.com", "username": "invoices@example.com",
          "password_credential": "mailbox.password", "messages": "{{ item }}", "to_folder": "Processed",
          "create": true}}
    """
    with imap_session(params) as session:
        uids = _selected(session, params)
        if params.create and not session.client.folder_exists(params.to_folder):
            session.client.create_folder(params.to_folder)
        if session.has("MOVE"):
            session.client.move(uids, params.to_folder)
        else:
            session.client.copy(uids, params.to_folder)
            _expunge(session, uids)
    return {"folder": params.folder, "to_folder": params.to_folder, "uids": uids}


class DeleteParams(MessagesParams):
    """How to delete."""

    expunge: bool = Field(True, description="Remove them now; false: only mark them \\Deleted.")


def _expunge(session: ImapSession, uids: list[int]) -> None:
    session.client.add_flags(uids, [b"\\Deleted"], silent=True)
    if session.has("UIDPLUS"):
        session.client.uid_expunge(uids)
    else:  # without UIDPLUS an EXPUNGE also removes other messages marked \Deleted
        session.client.expunge()


@step("email.delete", params=DeleteParams, output="{folder, uids}: the messages deleted")
def delete(params: DeleteParams) -> dict[str, Any]:
    """Delete messages from a folder (flag \\Deleted, then expunge).

    Example node:
        {"id": "drop", "type": "email.delete", "params": {
          "host": "imap.example.com", "username": "invoices@example.com",
          "password_credential": "mailbox.password", "messages": "{{ item }}"}}
    """
    with imap_session(params) as session:
        uids = _selected(session, params)
        if params.expunge:
            _expunge(session, uids)
        else:
            session.client.add_flags(uids, [b"\\Deleted"], silent=True)
    return {"folder": params.folder, "uids": uids}
