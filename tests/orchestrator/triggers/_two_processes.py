"""Two orchestrator processes on one PostgreSQL database (`pair`), sharing one data dir (their
keys, as replicas would), with fast trigger ticks and a short lease; used by the two-process tests
of the trigger kinds and sources."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.supervise import LocalOrchestrator
from tests.postgres import PostgresServer

LEASE_S = 2
EMAIL, PASSWORD = "owner@example.com", "Triggers-Test-42-Robots!"
FLOW = {
    "schema": "rpa.flow/1",
    "name": "Exactly once",
    "inputs": {"customer": {"type": "string", "required": True}},
    "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
}


@pytest.fixture
def database_url(postgres_template: tuple[PostgresServer, str]) -> Iterator[str]:
    server, template = postgres_template
    name = asyncio.run(server.create_database(template))
    yield server.url(name)
    asyncio.run(server.drop_database(name))


def orchestrator(root: Path, database_url: str, name: str) -> LocalOrchestrator:
    env = {
        "HOME": str(root / "home"),
        "RPA_ENVIRONMENT": "test",
        "RPA_DATABASE_URL": database_url,
        "RPA_RATE_LIMIT_PER_MINUTE": "1000000",
        "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "10000",
        "RPA_TRIGGER_TICK_S": "0.2",
        "RPA_TRIGGER_LEASE_S": str(LEASE_S),
    }
    # One data dir: the two processes share their keys (tokens, vault), as replicas would.
    return LocalOrchestrator(root / "data", env=env, log=root / f"{name}.log")


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[tuple[LocalOrchestrator, LocalOrchestrator]]:
    first, second = orchestrator(tmp_path, database_url, "a"), orchestrator(tmp_path, database_url, "b")
    try:
        first.start()
        first.create_owner(EMAIL, PASSWORD, org="Acme")
        second.start()
        second.client.login(EMAIL, PASSWORD)
        yield first, second
    finally:
        first.stop()
        second.stop()
