"""`email.search`: find messages in a folder and fetch their headers, bodies and attachment list."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from agent.steps.email._params import ImapParams
from agent.steps.email._parse import parse_message
from agent.steps.email._session import ImapSession, imap_session
from shared.steps import context, step

__all__ = ["SearchParams", "search"]

BATCH = 50


class SearchParams(ImapParams):
    """An IMAP folder and what to look for in it; every criterion given must match."""

    unread: bool | None = Field(None, description="true: only unread messages; false: only read ones.")
    flagged: bool | None = Field(None, description="true: only flagged messages; false: only unflagged ones.")
    sender: str | None = Field(None, description="The From header contains this (an address or a part of it).")
    to: str | None = Field(None, description="The To header contains this.")
    subject: str | None = Field(None, description="The subject contains this (any case).")
    body: str | None = Field(None, description="The body contains this.")
    since: date | None = Field(None, description="Received on or after this day (ISO date, 2026-12-01).")
    before: date | None = Field(None, description="Received before this day (ISO date).")
    has_attachment: bool | None = Field(
        None, description="true: only messages with attachments; false: only without (checked on the fetched message)."
    )
    fetch: Literal["full", "headers"] = Field(
        "full", description="full: headers, text and HTML bodies, attachment list; headers: headers only (faster)."
    )
    limit: int = Field(50, ge=1, le=10000, description="At most this many messages (oldest first, or newest first).")
    newest_first: bool = Field(False, description="Return the newest messages first (else the oldest first).")


def criteria_of(params: SearchParams) -> list[Any]:
    """The IMAP SEARCH criteria for the params (IMAPClient's list form)."""
    criteria: list[Any] = []
    if params.unread is not None:
        criteria.append("UNSEEN" if params.unread else "SEEN")
    if params.flagged is not None:
        criteria.append("FLAGGED" if params.flagged else "UNFLAGGED")
    for keyword, value in (("FROM", params.sender), ("TO", params.to), ("SUBJECT", params.subject)):
        if value:
            criteria += [keyword, value]
    if params.body:
        criteria += ["BODY", params.body]
    if params.since:
        criteria += ["SINCE", params.since]
    if params.before:
        criteria += ["BEFORE", params.before]
    return criteria or ["ALL"]


def _charset(criteria: list[Any]) -> str | None:
    return "UTF-8" if any(isinstance(c, str) and not c.isascii() for c in criteria) else None


def _fetch(session: ImapSession, uids: list[int], full: bool) -> dict[int, dict[bytes, Any]]:
    item = "BODY.PEEK[]" if full else "BODY.PEEK[HEADER]"
    result: dict[int, dict[bytes, Any]] = session.client.fetch(uids, [item, "FLAGS"])
    return result


def _message(uid: int, data: dict[bytes, Any], params: SearchParams, uidvalidity: int) -> dict[str, Any]:
    raw = data.get(b"BODY[]") or data.get(b"BODY[HEADER]") or b""
    _msg, parsed = parse_message(raw, bodies=params.fetch == "full")
    flags = [f.decode() if isinstance(f, bytes) else str(f) for f in data.get(b"FLAGS", ())]
    return {
        "uid": uid,
        "uidvalidity": uidvalidity,
        "folder": params.folder,
        **parsed,
        "flags": flags,
        "seen": "\\Seen" in flags,
        "flagged": "\\Flagged" in flags,
    }


def _collect(session: ImapSession, uids: list[int], params: SearchParams, uidvalidity: int) -> list[dict[str, Any]]:
    # has_attachment is not an IMAP criterion: it is checked on the fetched message.
    full = params.fetch == "full" or params.has_attachment is not None
    found: list[dict[str, Any]] = []
    for start in range(0, len(uids), BATCH):
        context().raise_if_cancelled()
        batch = uids[start : start + BATCH]
        fetched = _fetch(session, batch, full)
        for uid in batch:
            if uid not in fetched:  # expunged between SEARCH and FETCH
                continue
            message = _message(uid, fetched[uid], params, uidvalidity)
            if params.has_attachment is not None and bool(message["attachments"]) != params.has_attachment:
                continue
            if params.fetch == "headers":
                del message["attachments"]  # a header-only fetch cannot list them
            found.append(message)
            if len(found) == params.limit:
                return found
    return found


@step(
    "email.search",
    params=SearchParams,
    output="a list of messages: {uid, uidvalidity, folder, message_id, subject, from, to, cc, reply_to, date, "
    "in_reply_to, text, html, attachments [{filename, content_type, size}], flags, seen, flagged}",
)
def search(params: SearchParams) -> list[dict[str, Any]]:
    """Find messages in an IMAP folder: unread, from, to, subject, body, since/before, attachments.

    Reading does not mark a message read (use `email.mark`). `uid` with `uidvalidity` (and
    `message_id`) identify a message for de-duplication; the other e-mail steps take these
    messages as they are. One login per execution: the connection is reused by the next steps.

    Example node:
        {"id": "find", "type": "email.search", "params": {
          "host": "imap.example.com", "username": "invoices@example.com",
          "password_credential": "mailbox.password", "folder": "INBOX",
          "unread": true, "has_attachment": true, "since": "{{ inputs.since }}", "limit": 20}}
    """
    with imap_session(params) as session:
        uidvalidity = session.select(params.folder, readonly=True)
        criteria = criteria_of(params)
        uids = sorted(int(uid) for uid in session.client.search(criteria, charset=_charset(criteria)))
        if params.newest_first:
            uids.reverse()
        messages = _collect(session, uids, params, uidvalidity)
    context().log(f"{len(messages)} of {len(uids)} message(s) in {params.folder} matched")
    return messages
