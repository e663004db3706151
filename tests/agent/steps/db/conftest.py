"""Fixtures of the `db.*` tests: each test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.steps import StepEnvironment
from tests.postgres import PostgresServer

PASSWORD = "db-Secret-pw-31"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(Path(f"/tmp/rpa-pg-{tmp_path_factory.mktemp('pg').name}"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A plain (sync-style) URL without password, as a flow would write it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = await server.create_database()
    try:
        yield f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
    finally:
        await server.drop_database(name)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(
        secrets={"db": PASSWORD, "db.password": PASSWORD, "db.username": "postgres"},
        artifacts_dir=tmp_path / "artifacts",
    )
    try:
        yield environment
    finally:
        await environment.aclose()
