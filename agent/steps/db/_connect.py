"""Engines and transactions kept for one execution.

SQLAlchemy's asyncio extension, chosen over the sync engine in a worker thread because the
connection of a transaction must outlive one step and be closed by the engine's (async)
resource closers on the execution's event loop; asyncpg and aiosqlite are already what the
orchestrator uses. A URL naming a sync driver (or none) gets the dialect's async driver
(`DRIVERS`). The password comes from a credential, and the URL is only ever shown rendered
with `hide_password=True`.
"""

from __future__ import annotations

from typing import Any

from agent.steps.db._errors import DRIVERS, import_sqlalchemy, map_sqlalchemy_errors
from shared.errors import BusinessError
from shared.steps import context

ENGINE_PREFIX = "db:engine:"
TX_PREFIX = "db:transaction:"


def _async_url(raw: str, credential: str | None) -> Any:
    sa = import_sqlalchemy()
    with map_sqlalchemy_errors(raw.split("?", 1)[0]):
        url = sa.engine.make_url(raw)
    backend = url.get_backend_name()
    driver = DRIVERS.get(backend)
    if driver is not None and url.get_driver_name() != driver:
        url = url.set(drivername=f"{backend}+{driver}")
    if credential is not None and backend != "sqlite":  # a file database has no login
        ctx = context()
        username = ctx.secrets(f"{credential}.username")
        url = url.set(password=ctx.secret(credential))
        if url.username is None and username is not None:
            url = url.set(username=username)
    return url


def shown(url: Any) -> str:
    """The URL as messages show it."""
    return str(url.render_as_string(hide_password=True))


def engine_for(raw: str, credential: str | None) -> tuple[Any, str]:
    """The execution's `AsyncEngine` for this URL and credential, and its printable URL."""
    url = _async_url(raw, credential)
    where = shown(url)
    key = f"{ENGINE_PREFIX}{where}|{credential or ''}"
    resources = context().resources
    engine = resources.get(key)
    if engine is None:
        from sqlalchemy.ext.asyncio import create_async_engine

        with map_sqlalchemy_errors(where):
            engine = create_async_engine(url, pool_pre_ping=True)
        resources.put(key, engine, close=lambda e: e.dispose())
    return engine, where


class Transaction:
    """A connection with a transaction open across steps; rolled back if never committed."""

    def __init__(self, connection: Any, where: str) -> None:
        self.connection = connection
        self.where = where

    async def end(self, *, commit: bool) -> None:
        """Commit or roll back, then give the connection back to the pool."""
        try:
            with map_sqlalchemy_errors(self.where):
                if commit:
                    await self.connection.commit()
                else:
                    await self.connection.rollback()
        finally:
            await self.connection.close()


async def begin(raw: str, credential: str | None, name: str) -> str:
    """Open the transaction `name`; the engine rolls it back if the execution ends first."""
    resources = context().resources
    if resources.get(TX_PREFIX + name) is not None:
        raise BusinessError(f"a transaction named '{name}' is already open", kind="transaction")
    engine, where = engine_for(raw, credential)
    with map_sqlalchemy_errors(where, connecting=True):
        connection = await engine.connect()
        await connection.begin()
    resources.put(TX_PREFIX + name, Transaction(connection, where), close=lambda t: t.end(commit=False))
    return where


def transaction(name: str) -> Transaction:
    """The open transaction `name`."""
    found = context().resources.get(TX_PREFIX + name)
    if not isinstance(found, Transaction):
        raise BusinessError(f"no transaction named '{name}' is open (start one with db.begin)", kind="transaction")
    return found


async def end(name: str, *, commit: bool) -> str:
    """Commit or roll back the transaction `name` and forget it."""
    tx = transaction(name)
    context().resources.pop(TX_PREFIX + name)
    await tx.end(commit=commit)
    return tx.where
