"""The private parts of SQLAlchemy, aiosqlite, FastAPI and Starlette the orchestrator builds on.

`db/sqlite_dbapi.py` and `db/sqlite_inline.py` subclass SQLAlchemy's aiosqlite adapter and
aiosqlite's connection, `api/route_table.py` copies FastAPI's route options, and `api/deps.py`
subclasses FastAPI's `HTTPBearer`. pyproject.toml bounds these libraries to the minor release
that was tested; before a bound is raised, these tests say whether what the subclasses rely on is
still there, naming the pin to look at.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
BOUNDED = ("sqlalchemy", "aiosqlite", "fastapi", "starlette")


def _server_requirements() -> dict[str, Requirement]:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["server"]
    return {Requirement(line).name.lower(): Requirement(line) for line in extras}


def _missing(owner: Any, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not hasattr(owner, name)]


@pytest.mark.parametrize("name", BOUNDED)
def test_each_subclassed_library_has_an_upper_bound_the_installed_version_meets(name: str) -> None:
    requirement = _server_requirements().get(name)
    assert requirement is not None, f"pyproject.toml [server] does not pin {name}"
    assert any(spec.operator == "<" for spec in requirement.specifier), (
        f"pyproject.toml pins {requirement} without an upper bound: the orchestrator subclasses private "
        f"parts of {name}, so a new minor release must be tested before it is allowed"
    )
    installed = importlib.metadata.version(name)
    assert requirement.specifier.contains(installed), (
        f"{name} {installed} is installed, outside the pin '{requirement}' in pyproject.toml"
    )


def test_sqlalchemys_aiosqlite_adapter_still_has_what_sqlite_dbapi_overrides() -> None:
    from sqlalchemy.dialects.sqlite import aiosqlite as adapter
    from sqlalchemy.util import concurrency

    slots = {slot for cls in adapter.AsyncAdapt_aiosqlite_cursor.__mro__ for slot in getattr(cls, "__slots__", ())}
    problems = _missing(
        adapter.AsyncAdapt_aiosqlite_cursor,
        ("_make_new_cursor", "_awaitable_cursor_close", "_aenter_cursor", "execute", "executemany"),
    )
    problems += [
        f"cursor slot {slot}" for slot in ("_adapt_connection", "_connection", "_cursor", "_rows") if slot not in slots
    ]
    problems += _missing(
        adapter.AsyncAdapt_aiosqlite_connection,
        ("_cursor_cls", "_handle_exception", "isolation_level", "commit", "rollback"),
    )
    problems += _missing(concurrency, ("await_",))
    dbapi = list(inspect.signature(adapter.AsyncAdapt_aiosqlite_dbapi.__init__).parameters)
    if dbapi[1:3] != ["aiosqlite", "sqlite"]:
        problems.append(f"AsyncAdapt_aiosqlite_dbapi({', '.join(dbapi[1:])})")
    assert not problems, (
        f"SQLAlchemy changed what orchestrator/db/sqlite_dbapi.py subclasses: {problems}; "
        f"check it before raising the pin '{_server_requirements()['sqlalchemy']}'"
    )


def test_aiosqlites_connection_still_has_what_sqlite_inline_overrides() -> None:
    import aiosqlite

    problems = _missing(aiosqlite.Connection, ("_execute", "stop", "close", "__await__"))
    parameters = inspect.signature(aiosqlite.Connection.__init__).parameters
    problems += [f"Connection({name}=)" for name in ("connector", "iter_chunk_size") if name not in parameters]
    connection = aiosqlite.Connection(lambda: None, iter_chunk_size=64)  # type: ignore[arg-type,return-value]
    problems += [
        f"Connection.{name}"
        for name in ("_connection", "_connector", "_running", "_tx")
        if name not in vars(connection)
    ]
    assert not problems, (
        f"aiosqlite changed what orchestrator/db/sqlite_inline.py subclasses: {problems}; "
        f"check it before raising the pin '{_server_requirements()['aiosqlite']}'"
    )


def test_fastapi_and_starlette_still_take_what_the_route_table_and_deps_give_them() -> None:
    from fastapi import Depends, FastAPI
    from fastapi.routing import APIRoute
    from fastapi.security import HTTPBearer
    from starlette.responses import JSONResponse

    problems: list[str] = []
    if "route_class_override" not in inspect.signature(FastAPI().router.add_api_route).parameters:
        problems.append("APIRouter.add_api_route(route_class_override=)")
    options = set(inspect.signature(APIRoute.__init__).parameters)
    problems += [
        f"APIRoute({name}=)" for name in ("response_model", "dependencies", "responses", "name") if name not in options
    ]
    if "scope" not in inspect.signature(Depends).parameters:
        problems.append("Depends(scope=)")
    if not inspect.iscoroutinefunction(HTTPBearer.__call__):
        problems.append("async HTTPBearer.__call__")
    if "headers" not in inspect.signature(JSONResponse).parameters:
        problems.append("JSONResponse(headers=)")
    assert not problems, (
        f"FastAPI/Starlette changed what orchestrator/api relies on: {problems}; check it before "
        f"raising the pins '{_server_requirements()['fastapi']}', "
        f"'{_server_requirements()['starlette']}'"
    )
