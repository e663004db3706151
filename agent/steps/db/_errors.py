"""The one place where SQLAlchemy's and the drivers' exceptions become step errors.

    sqlalchemy.exc.ArgumentError, NoSuchModuleError -> StepError  kind `validation` / `dependency`
    ImportError (a driver not installed)            -> StepError  kind `dependency`
    sqlalchemy.exc.IntegrityError                   -> BusinessError kind `integrity` (bad data)
    sqlalchemy.exc.OperationalError                 -> StepError  kind `connection` (while connecting,
                                                       or the connection was lost) or `conflict`
                                                       (deadlock, serialization, locked): retryable;
                                                       else kind `sql`
    TimeoutError, InterfaceError, OSError           -> StepError  kind `connection`, retryable
    sqlalchemy.exc.DBAPIError (syntax, types...)    -> StepError  kind `sql`, not retryable

Messages name the database by its URL rendered with `hide_password=True`, and quote the
driver's first line of error text (never the bound parameters, which may be personal data).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.errors import BusinessError, MissingDependency, StepError

DRIVERS = {
    "sqlite": "aiosqlite",
    "postgresql": "asyncpg",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
    "mssql": "aioodbc",
}
"""The async driver used for each dialect when the URL names none (or a sync one)."""


def import_sqlalchemy() -> Any:
    """sqlalchemy, or the error saying which extra installs it."""
    try:
        import sqlalchemy
    except ImportError:
        raise MissingDependency("SQLAlchemy", extra="db") from None
    return sqlalchemy


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0][:300] if text else type(original).__name__


def _operational(exc: Any, where: str, *, connecting: bool) -> StepError:
    """An OperationalError: a lost or refused connection, a conflict worth retrying, or a bad
    statement (SQLite reports "no such table" this way)."""
    message = f"{where}: {_first_line(exc)}"
    state = str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")
    if connecting or exc.connection_invalidated or state.startswith("08"):
        return StepError(message, kind="connection", retryable=True)
    if state in ("40001", "40P01") or "database is locked" in message:
        return StepError(message, kind="conflict", retryable=True)
    return StepError(message, kind="sql", retryable=False)


@contextmanager
def map_sqlalchemy_errors(where: str, *, connecting: bool = False) -> Iterator[None]:
    """Translate database errors raised inside the block; `where` is the password-free URL and
    `connecting` says the block opens a connection (then any operational error is one)."""
    sa_exc = import_sqlalchemy().exc
    try:
        yield
    except sa_exc.NoSuchModuleError as exc:
        raise StepError(f"{where}: no such database dialect ({exc})", kind="dependency", retryable=False) from None
    except sa_exc.ArgumentError as exc:
        raise StepError(f"{where}: {exc}", kind="validation", retryable=False) from None
    except ImportError as exc:
        raise StepError(
            f"{where}: the database driver '{exc.name}' is not installed (pip install {exc.name})",
            kind="dependency",
            retryable=False,
        ) from None
    except sa_exc.IntegrityError as exc:
        raise BusinessError(f"{where}: {_first_line(exc)}", kind="integrity") from None
    except sa_exc.OperationalError as exc:
        raise _operational(exc, where, connecting=connecting) from None
    except (sa_exc.InterfaceError, sa_exc.TimeoutError, OSError, TimeoutError) as exc:
        raise StepError(f"{where}: {_first_line(exc)}", kind="connection", retryable=True) from None
    except sa_exc.SQLAlchemyError as exc:
        raise StepError(f"{where}: {_first_line(exc)}", kind="sql", retryable=False) from None
