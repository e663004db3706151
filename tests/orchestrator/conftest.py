"""Fixtures for the orchestrator: an app on a fresh database, an HTTP client, and tenants.

Every test that uses `settings` (directly or through `app`/`client`) runs twice: on SQLite in a
temporary data dir, and on a fresh database of a real PostgreSQL server started for the session
(marker `postgres`; `-m "not postgres"` runs the SQLite half only).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.app import create_app
from orchestrator.db.migrate import upgrade_sync
from orchestrator.models import Membership
from orchestrator.services.identity import create_org_with_owner, create_user, start_session
from orchestrator.services.roles import builtin_role
from orchestrator.settings import Settings
from tests.orchestrator._live_server import live  # noqa: F401 - fixture: the app on a loopback socket
from tests.postgres import PostgresServer

PASSWORD = "Correct-Horse-42-battery"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[PostgresServer, str]]:
    """A PostgreSQL server for the session and a template database with every migration applied,
    so each test's database is a quick copy instead of a full migration run."""
    # Not under pytest's temp tree: as root, the cluster belongs to `postgres`, who cannot enter it.
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="rpa-test-pg-")))
    server.start()
    try:
        template = asyncio.run(server.create_database())
        upgrade_sync(server.url(template))
        yield server, template
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    server, template = request.getfixturevalue("postgres_template")
    name = asyncio.run(server.create_database(template))
    yield server.url(name)
    # About 11 MB each: kept for the session, the ~500 of a full run took some 5 GB and 14 s to delete.
    asyncio.run(server.drop_database(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with every migration applied, copied for each test (as PostgreSQL's
    template is): a migration run from scratch costs more than the rest of most tests."""
    path = tmp_path_factory.mktemp("sqlite-template") / "orchestrator.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None, request: pytest.FixtureRequest) -> Settings:
    data_dir = tmp_path / "data"
    if database_url is None:  # the default database in the data dir, as a copy of the migrated template
        data_dir.mkdir(mode=0o700)
        template: Path = request.getfixturevalue("sqlite_template")
        target = data_dir / "orchestrator.db"
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Member:
    """A user logged in to one organisation."""

    org_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: str
    headers: dict[str, str]
    refresh_token: str


TenantFactory = Callable[..., Awaitable[Member]]


async def make_tenant(
    app: FastAPI, org_id: uuid.UUID | None = None, role: str = "owner", email: str | None = None
) -> Member:
    """An organisation with its owner logged in, or (`org_id`, `role`) a member added to one."""
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    async with app.state.db.transaction() as session:
        if org_id is None:
            org, user = await create_org_with_owner(
                session, org_name=f"Org {uuid.uuid4().hex[:6]}", email=email, password=PASSWORD
            )
            org_id = org.id
            if role != "owner":
                raise ValueError("a new organisation starts with its owner; add other roles afterwards")
        else:
            user = await create_user(session, email=email, password=PASSWORD, home_org_id=org_id)
            session.add(Membership(org_id=org_id, user_id=user.id, role_id=(await builtin_role(session, role)).id))
            await session.flush()
        settings: Settings = app.state.settings
        tokens = await start_session(
            session,
            user=user,
            org_id=org_id,
            signing_key=app.state.signing_key,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
        )
    return Member(
        org_id, user.id, email, role, {"Authorization": f"Bearer {tokens.access_token}"}, tokens.refresh_token
    )


@pytest.fixture
def tenant(app: FastAPI) -> TenantFactory:
    """`await tenant()` makes an organisation and logs its owner in; `await tenant(org_id=…, role="viewer")`
    adds a member with that built-in role to an existing organisation."""
    return functools.partial(make_tenant, app)
