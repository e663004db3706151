"""The e-mail source: each new message in an IMAP folder becomes one event.

How it finds messages, exactly once:

- The cursor keeps the folder, its UIDVALIDITY, the last UID handled and the Message-IDs of the
  last `remember_message_ids` messages emitted.
- On every (re)connect a UID sweep takes the messages above the last UID (`UID n:*`), so what
  arrived while the orchestrator was stopped or the server was unreachable is found.
- Then it waits: IDLE when the server offers it (re-issued every `idle_renew_s`, below the
  29 minutes RFC 2177 allows), else a NOOP every `poll_interval_s`; either ends in a sweep.
- Each message is emitted with the key `"{uidvalidity}:{uid}"`; only after `emit` returns is it
  marked read or moved, and the cursor advanced. A crash between the two repeats the emit,
  which the framework drops by its key.
- When UIDVALIDITY changed (the folder was re-created, the server migrated), every UID is new:
  the sweep then covers the whole folder and skips each message whose Message-ID (or, without
  one, a digest of sender, date and subject) the cursor remembers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrator.triggers.sources._api import SourceContext, SourceError, SourceEvent
from orchestrator.triggers.sources._common import Backoff, bounded, sleep_or_stop
from orchestrator.triggers.sources._imap import (
    DEFAULT_PORTS,
    ImapAccount,
    ImapLost,
    close,
    connect,
    map_imap_errors,
)
from orchestrator.triggers.sources._mailparse import identity_of, parse_headers, parse_mail

__all__ = ["EmailSource", "EmailSourceConfig"]

# RFC 2177: a client should re-issue IDLE at least every 29 minutes or the server may log it out.
_IDLE_LIMIT_S = 29 * 60


class EmailSourceConfig(BaseModel):
    """Which mailbox to watch, which messages count, and what to do with them afterwards."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="The IMAP server's host name.", min_length=1)
    port: int | None = Field(None, ge=1, le=65535, description="The IMAP port; default 993 for tls, 143 otherwise.")
    security: Literal["tls", "starttls", "none"] = Field(
        "tls", description="tls: TLS from the first byte; starttls: upgrade a plain connection; none: no TLS."
    )
    credential: str = Field(
        description="Name of the vault credential holding `username` and `password` fields.", min_length=1
    )
    ca_file: str | None = Field(None, description="A PEM file of the CA to trust instead of the system's CAs.")
    folder: str = Field("INBOX", description="The folder to watch.", min_length=1)
    sender: str | None = Field(None, description="Only messages whose From address contains this text (any case).")
    subject: str | None = Field(
        None, description="Only messages whose subject contains this text (any case), or matches it as a regex."
    )
    subject_is_regex: bool = Field(False, description="Read `subject` as a Python regular expression (searched).")
    has_attachment: bool = Field(False, description="Only messages with at least one attachment.")
    unread_only: bool = Field(True, description="Only messages not yet marked read.")
    after: Literal["nothing", "mark_read", "move"] = Field(
        "mark_read", description="What to do with a message once its event is stored: nothing, mark it read, move it."
    )
    move_to: str | None = Field(None, description="The folder to move handled messages to (with after = move).")
    process_existing: bool = Field(
        False, description="On the very first start, also take the matching messages already in the folder."
    )
    use_idle: bool = Field(True, description="Wait with IMAP IDLE when the server offers it (else poll).")
    idle_renew_s: float = Field(
        25 * 60, gt=0, le=_IDLE_LIMIT_S, description="Re-issue IDLE after this many seconds (RFC 2177: under 29 min)."
    )
    poll_interval_s: float = Field(60.0, gt=0, description="Seconds between checks when the server has no IDLE.")
    max_attachment_bytes: int = Field(
        25_000_000, ge=0, description="Attachments larger than this are listed in the event but not stored."
    )
    remember_message_ids: int = Field(
        5000,
        ge=0,
        description="Message-IDs the cursor keeps to recognise messages after a UIDVALIDITY change.",
    )
    batch_size: int = Field(50, ge=1, le=1000, description="Message headers fetched per round trip in a sweep.")
    timeout_s: float = Field(30.0, gt=0, description="Seconds to wait for the server on each command.")
    reconnect_initial_s: float = Field(1.0, gt=0, description="First delay before reconnecting to a lost server.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest delay between reconnect attempts.")
    reconnect_attempts: int = Field(
        10, ge=1, description="Failed connects in a row after which the trigger reports an error."
    )

    @field_validator("subject")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _consistent(self) -> EmailSourceConfig:
        if self.after == "move" and not self.move_to:
            raise ValueError("after = move needs move_to (the folder to move handled messages to)")
        if self.after == "move" and self.move_to == self.folder:
            raise ValueError("move_to must be another folder than the one watched")
        if self.subject_is_regex and self.subject:
            try:
                re.compile(self.subject)
            except re.error as exc:
                raise ValueError(f"subject is not a valid regular expression: {exc}") from None
        return self

    def matches(self, headers: dict[str, Any]) -> bool:
        """Whether a message's headers pass the sender and subject filters."""
        if self.sender and self.sender.lower() not in str(headers.get("from") or "").lower():
            return False
        subject = str(headers.get("subject") or "")
        if not self.subject:
            return True
        if self.subject_is_regex:
            return re.search(self.subject, subject) is not None
        return self.subject.lower() in subject.lower()


class _Mailbox:
    """One logged-in connection with the watched folder selected; each call in a worker thread."""

    def __init__(self, config: EmailSourceConfig, account: ImapAccount, ctx: SourceContext) -> None:
        self.config, self.account, self.ctx = config, account, ctx
        self.where = f"{account.where} folder '{config.folder}'"
        self.client: Any = None
        self.uidvalidity = 0
        self.uidnext = 0

    async def io(self, fn: Any, *args: Any) -> Any:
        with map_imap_errors(self.where):
            return await asyncio.to_thread(fn, *args)

    async def open(self) -> None:
        with map_imap_errors(self.where):
            self.client = await asyncio.to_thread(connect, self.account)
        if self.config.after == "move" and not await self.io(self.client.folder_exists, self.config.move_to):
            raise SourceError(
                f"{self.account.where}: the folder '{self.config.move_to}' does not exist", retryable=False
            )
        info = await self.io(self.client.select_folder, self.config.folder, self.config.after == "nothing")
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        self.uidnext = int(info.get(b"UIDNEXT", 0))

    async def close(self) -> None:
        """Log out (after a normal stop or a lost connection)."""
        if self.client is not None:
            client, self.client = self.client, None
            await asyncio.to_thread(close, client)

    def abort(self) -> None:
        """Drop the socket at once (the task is cancelled; a worker thread may still read it)."""
        if self.client is not None:
            client, self.client = self.client, None
            with contextlib.suppress(Exception):
                client.shutdown()

    @property
    def idle_ready(self) -> bool:
        return self.config.use_idle and bool(self.client.has_capability("IDLE"))

    async def wait_idle(self) -> None:
        """IDLE until the server reports a change, the renewal time is due, or the source stops.

        Not in a `finally`: after an error or a cancellation the connection is dropped instead,
        as a DONE sent while another thread still reads the IDLE answer would tangle the stream.
        """
        self.ctx.status("idle (IDLE)")
        await self.io(self.client.idle)
        started = time.monotonic()
        while not self.ctx.stop.is_set():
            if await self.io(self.client.idle_check, 1.0):
                break
            if time.monotonic() - started >= self.config.idle_renew_s:
                break
        await self.io(self.client.idle_done)

    async def wait_poll(self) -> None:
        self.ctx.status(f"polling every {self.config.poll_interval_s:g} s")
        if not await sleep_or_stop(self.ctx.stop, self.config.poll_interval_s):
            await self.io(self.client.noop)

    async def search(self, after_uid: int | None, *, unread_only: bool | None = None) -> list[int]:
        criteria: list[Any] = ["ALL"] if after_uid is None else ["UID", f"{after_uid + 1}:*"]
        if self.config.unread_only if unread_only is None else unread_only:
            criteria.append("UNSEEN")
        found = await self.io(self.client.search, criteria)
        return sorted(int(uid) for uid in found if after_uid is None or int(uid) > after_uid)

    async def headers(self, uids: list[int]) -> dict[int, dict[str, Any]]:
        fetched = await self.io(self.client.fetch, uids, [b"BODY.PEEK[HEADER]"])
        return {int(uid): parse_headers(data.get(b"BODY[HEADER]", b"")) for uid, data in fetched.items()}

    async def body(self, uid: int) -> bytes | None:
        fetched = await self.io(self.client.fetch, [uid], [b"BODY.PEEK[]"])
        data = fetched.get(uid)
        return None if data is None else bytes(data.get(b"BODY[]", b""))

    async def acknowledge(self, uid: int) -> None:
        """Mark read or move, as configured (only ever after the event is stored)."""
        client, config = self.client, self.config
        if config.after == "mark_read":
            await self.io(client.add_flags, [uid], [b"\\Seen"])
        elif config.after == "move":
            if client.has_capability("MOVE"):
                await self.io(client.move, [uid], config.move_to)
                return
            await self.io(client.copy, [uid], config.move_to)
            await self.io(client.delete_messages, [uid])
            if client.has_capability("UIDPLUS"):
                await self.io(client.uid_expunge, [uid])
            else:
                await self.io(client.expunge)


class _Sweep:
    """Takes the messages the cursor has not seen, one event each (see the module docstring)."""

    def __init__(self, mailbox: _Mailbox, state: dict[str, Any]) -> None:
        self.mailbox, self.config, self.ctx = mailbox, mailbox.config, mailbox.ctx
        self.state = state

    async def run(self) -> None:
        box, state = self.mailbox, self.state
        known = state.get("folder") == self.config.folder and state.get("uidvalidity") == box.uidvalidity
        if not state and not self.config.process_existing:
            # First start: only what arrives from now on.
            last = box.uidnext - 1 if box.uidnext else max(await box.search(None, unread_only=False), default=0)
            await self._save(last)
            return
        uids = await box.search(int(state.get("last_uid", 0)) if known else None)
        if not known:
            await self._save(0)  # a new UIDVALIDITY: the whole folder, de-duplicated by Message-ID
        for start in range(0, len(uids), self.config.batch_size):
            chunk = uids[start : start + self.config.batch_size]
            headers = await box.headers(chunk)
            for uid in chunk:
                if self.ctx.stop.is_set():
                    return
                await self._one(uid, headers.get(uid))

    async def _one(self, uid: int, headers: dict[str, Any] | None) -> None:
        if headers is None or not self.config.matches(headers):  # gone meanwhile, or filtered out
            await self._save(uid)
            return
        identity = identity_of(headers)
        if identity in self.state.get("message_ids", []):  # taken before a UIDVALIDITY change
            await self.mailbox.acknowledge(uid)
            await self._save(uid)
            return
        raw = await self.mailbox.body(uid)
        if raw is None:
            await self._save(uid)
            return
        mail = parse_mail(raw, max_bytes=self.config.max_attachment_bytes)
        if self.config.has_attachment and not mail.has_attachment:
            await self._save(uid)
            return
        box = self.mailbox
        payload = {**mail.payload, "uid": uid, "uidvalidity": box.uidvalidity, "folder": self.config.folder}
        await self.ctx.emit(SourceEvent(f"{box.uidvalidity}:{uid}", payload, mail.attachments))
        await box.acknowledge(uid)
        await self._save(uid, identity)

    async def _save(self, uid: int, identity: str | None = None) -> None:
        ids = list(self.state.get("message_ids", []))
        if identity is not None:
            ids = bounded([*ids, identity], self.config.remember_message_ids)
        self.state = {
            "folder": self.config.folder,
            "uidvalidity": self.mailbox.uidvalidity,
            "last_uid": uid,
            "message_ids": ids,
        }
        await self.ctx.cursor.save(self.state)


class EmailSource:
    """Watches an IMAP folder; each new matching message is one event (module docstring)."""

    kind: ClassVar[str] = "email"
    config_model: ClassVar[type[BaseModel]] = EmailSourceConfig

    async def run(self, config: BaseModel, ctx: SourceContext) -> None:
        """Watch until `ctx.stop` is set; reconnect with backoff; `SourceError` past the bound."""
        cfg = config if isinstance(config, EmailSourceConfig) else EmailSourceConfig.model_validate(config.model_dump())
        account = ImapAccount(
            host=cfg.host,
            port=cfg.port or DEFAULT_PORTS[cfg.security],
            security=cfg.security,
            username=await ctx.secret(f"{cfg.credential}.username"),
            password=await ctx.secret(f"{cfg.credential}.password"),
            ca_file=cfg.ca_file,
            timeout_s=cfg.timeout_s,
        )
        backoff = Backoff(cfg.reconnect_initial_s, cfg.reconnect_max_s, cfg.reconnect_attempts)
        while not ctx.stop.is_set():
            mailbox = _Mailbox(cfg, account, ctx)
            try:
                await self._watch(mailbox, backoff)
            except ImapLost as exc:
                await mailbox.close()
                if await backoff.wait(ctx, account.where, str(exc).removeprefix(f"{mailbox.where}: ")):
                    return
            except BaseException:  # cancelled, or a SourceError: never wait on the server again
                mailbox.abort()
                raise
            else:
                await mailbox.close()

    async def _watch(self, mailbox: _Mailbox, backoff: Backoff) -> None:
        await mailbox.open()
        ctx = mailbox.ctx
        state = await ctx.cursor.load()
        while not ctx.stop.is_set():
            sweep = _Sweep(mailbox, state)
            await sweep.run()
            state = sweep.state
            backoff.reset()
            if ctx.stop.is_set():
                return
            if mailbox.idle_ready:
                await mailbox.wait_idle()
            else:
                await mailbox.wait_poll()
