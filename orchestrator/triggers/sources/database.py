"""The database source: each row change becomes one event (or one event per batch of N).

Two ways to see changes:

- `postgres`: the change capture of `_pgcapture.py` (a row trigger writing to the `rpa_changes`
  log and NOTIFYing). The source LISTENs to wake up at once and reads the log by position, so
  changes made while it was stopped are read on the next start. Key: the change id.
- `watermark`: any SQLAlchemy database, polled for rows past the last (watermark, key) seen; the
  watermark is an increasing key or a timestamp column, ties broken by the key. Key: the key
  column's value (with the watermark value when it is another column, so a row updated later is
  a new event). The watermark must grow in commit order: a row committed late with a smaller
  value than one already read is missed, which the `postgres` way rules out.

Exactly once: the cursor holds the position of the last change handed over. A batch is first
written to the cursor as `pending` (its key and last position), then emitted, then the position
advanced; a restart finds a pending batch and emits exactly the same changes under the same key.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.triggers.sources._api import SourceContext, SourceEvent
from orchestrator.triggers.sources._common import Backoff, sleep_or_stop
from orchestrator.triggers.sources._dbread import Change, PostgresChanges, ReadFailed, WatermarkRows
from orchestrator.triggers.sources._pgcapture import CHANGE_LOG, check_channel, quote_table

__all__ = ["DatabaseSource", "DatabaseSourceConfig"]

Operation = Literal["INSERT", "UPDATE", "DELETE"]
_READ_LIMIT = 500


def _all_operations() -> list[Operation]:
    return ["INSERT", "UPDATE", "DELETE"]


class DatabaseSourceConfig(BaseModel):
    """Which database and table to watch, and how."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["postgres", "watermark"] = Field(
        description="postgres: LISTEN/NOTIFY with the change log; watermark: poll any SQLAlchemy database."
    )
    url: str | None = Field(
        None,
        description="The database URL without a password (postgresql://user@host/db, sqlite+aiosqlite:///f.db); "
        "or leave it out and name a credential.",
    )
    credential: str | None = Field(None, description="Vault credential whose `url` field holds the database URL.")
    table: str = Field(description="The table watched (schema.table or table).", min_length=1)
    operations: list[Operation] = Field(
        default_factory=_all_operations, min_length=1, description="postgres: which changes count."
    )
    channel: str = Field(CHANGE_LOG, description="postgres: the NOTIFY channel given to the installer.")
    watermark_column: str | None = Field(
        None, description="watermark: an increasing key or timestamp column (e.g. id, updated_at)."
    )
    key_column: str | None = Field(None, description="watermark: the primary key, which breaks ties on the watermark.")
    batch_size: int = Field(1, ge=1, le=10_000, description="Changes per event; above 1 an event carries a list.")
    poll_interval_s: float = Field(
        5.0, gt=0, description="watermark: seconds between polls; postgres: a re-read in case a NOTIFY was missed."
    )
    process_existing: bool = Field(
        False, description="On the very first start, also take the changes or rows already there."
    )
    reconnect_initial_s: float = Field(1.0, gt=0, description="First delay before reconnecting.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest delay between reconnect attempts.")
    reconnect_attempts: int = Field(
        10, ge=1, description="Failed connects in a row before the trigger reports an error."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DatabaseSourceConfig:
        if (self.url is None) == (self.credential is None):
            raise ValueError("give either url or credential (a credential whose url field holds the URL)")
        if self.url and urlsplit(self.url).password is not None:
            raise ValueError("a password inside the url is refused: put the URL in a vault credential")
        if self.mode == "postgres":
            quote_table(self.table)
            check_channel(self.channel)
        elif not (self.watermark_column and self.key_column):
            raise ValueError("mode watermark needs watermark_column and key_column")
        return self


class _Reader(Protocol):
    async def open(self, woken: asyncio.Event) -> None: ...
    async def close(self) -> None: ...
    async def start(self, process_existing: bool) -> list[Any] | None: ...
    async def read(self, after: list[Any] | None, through: list[Any] | None, limit: int) -> list[Change]: ...


class _Drain:
    """Hands every change past the cursor to the framework (module docstring)."""

    def __init__(self, config: DatabaseSourceConfig, reader: _Reader, ctx: SourceContext) -> None:
        self.config, self.reader, self.ctx = config, reader, ctx
        self.state: dict[str, Any] = {}

    async def load(self) -> None:
        self.state = await self.ctx.cursor.load()
        if "after" not in self.state:
            self.state = {"after": await self.reader.start(self.config.process_existing)}
            await self.ctx.cursor.save(self.state)
        pending = self.state.get("pending")
        if pending:  # emitted or not before a stop: the same changes under the same key
            changes = await self.reader.read(self.state["after"], pending["through"], 1_000_000)
            await self._emit([c for c in changes if c.key], pending["through"], pending["key"])

    async def run(self) -> None:
        """Read and emit until nothing is left (or the source stops)."""
        while not self.ctx.stop.is_set():
            changes = await self.reader.read(self.state["after"], None, _READ_LIMIT)
            if not changes:
                return
            batch: list[Change] = []
            for change in changes:
                if change.key:
                    batch.append(change)
                if len(batch) == self.config.batch_size:
                    await self._emit(batch, batch[-1].position)
                    batch = []
            if batch:
                await self._emit(batch, batch[-1].position)
            if changes[-1].position != self.state["after"]:  # read past changes filtered out
                self.state["after"] = changes[-1].position
                await self.ctx.cursor.save(self.state)

    async def _emit(self, batch: list[Change], through: list[Any], key: str | None = None) -> None:
        if batch and self.config.batch_size == 1:
            await self.ctx.emit(SourceEvent(batch[0].key, batch[0].payload))
        elif batch:
            key = key or (batch[0].key if len(batch) == 1 else f"{batch[0].key}..{batch[-1].key}"[:500])
            await self.ctx.cursor.save({**self.state, "pending": {"key": key, "through": through}})
            payload = {"count": len(batch), "changes": [change.payload for change in batch]}
            await self.ctx.emit(SourceEvent(key, payload))
        self.state = {"after": through}
        await self.ctx.cursor.save(self.state)


class DatabaseSource:
    """Watches a table for changes; each change (or batch) is one event (module docstring)."""

    kind: ClassVar[str] = "database"
    config_model: ClassVar[type[BaseModel]] = DatabaseSourceConfig

    async def run(self, config: BaseModel, ctx: SourceContext) -> None:
        """Watch until `ctx.stop` is set; reconnect with backoff, `SourceError` past the bound."""
        cfg = (
            config
            if isinstance(config, DatabaseSourceConfig)
            else DatabaseSourceConfig.model_validate(config.model_dump())
        )
        url = cfg.url or await ctx.secret(f"{cfg.credential}.url")
        backoff = Backoff(cfg.reconnect_initial_s, cfg.reconnect_max_s, cfg.reconnect_attempts)
        where = f"{cfg.mode} {cfg.table}"
        while not ctx.stop.is_set():
            reader = self._reader(cfg, url)
            try:
                await self._watch(cfg, reader, ctx, backoff)
            except ReadFailed as exc:
                await reader.close()
                if await backoff.wait(ctx, where, str(exc)):
                    return
            except BaseException:
                await asyncio.shield(reader.close())
                raise
            else:
                await reader.close()

    @staticmethod
    def _reader(cfg: DatabaseSourceConfig, url: str) -> _Reader:
        if cfg.mode == "postgres":
            dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
            return PostgresChanges(dsn, cfg.channel, [cfg.table], list(cfg.operations))
        # Both are there: the config checks it.
        return WatermarkRows(url, cfg.table, str(cfg.watermark_column), str(cfg.key_column))

    @staticmethod
    async def _watch(cfg: DatabaseSourceConfig, reader: _Reader, ctx: SourceContext, backoff: Backoff) -> None:
        woken = asyncio.Event()
        await reader.open(woken)
        drain = _Drain(cfg, reader, ctx)
        await drain.load()
        ctx.status(
            "listening (LISTEN/NOTIFY)" if cfg.mode == "postgres" else f"polling every {cfg.poll_interval_s:g} s"
        )
        while not ctx.stop.is_set():
            woken.clear()
            await drain.run()
            backoff.reset()
            await _wait(ctx, woken, cfg.poll_interval_s)


async def _wait(ctx: SourceContext, woken: asyncio.Event, seconds: float) -> None:
    """Until a NOTIFY, `seconds`, or the stop."""
    waits = {asyncio.ensure_future(woken.wait()), asyncio.ensure_future(sleep_or_stop(ctx.stop, seconds))}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
