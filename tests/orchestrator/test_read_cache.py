"""The read caches (`db/read_cache.py`: authentication, the version a start pins) and the write watch under it
(`Database.watch`): what this process commits ends a cached session at once; what another process
writes is believed stale for at most `read_cache_s`."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from orchestrator.db.base import utcnow
from orchestrator.db.read_cache import AUTH_TABLES, ReadCache
from orchestrator.db.session import Database
from orchestrator.models import AuthSession, Membership, User
from orchestrator.models.workflows import Workflow
from orchestrator.settings import Settings
from tests.orchestrator._identity_helpers import API, error_code
from tests.orchestrator._workflows_helpers import create, flow, publish


async def me(client: httpx.AsyncClient, member) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await client.get(f"{API}/auth/me", headers=member.headers)


async def cached_owner(client: httpx.AsyncClient, app: FastAPI, tenant) -> tuple[Any, ReadCache]:  # type: ignore[no-untyped-def]
    """An owner whose session the authentication cache holds (for a minute)."""
    owner = await tenant()
    cache: ReadCache = app.state.auth_cache
    cache.ttl_s = 60.0
    assert (await me(client, owner)).status_code == 200
    return owner, cache


async def test_a_cached_session_is_refused_at_once_when_this_process_revokes_it(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner, cache = await cached_owner(client, app, tenant)
    hits = cache.hits
    assert (await me(client, owner)).status_code == 200
    assert cache.hits == hits + 1  # the second request was answered from the cache
    async with app.state.db.transaction() as session:  # the unit of work: an object changed
        auth = await session.scalar(select(AuthSession).where(AuthSession.user_id == owner.user_id))
        auth.revoked_at = utcnow()
    response = await me(client, owner)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


async def test_an_update_statement_ends_the_cached_sessions_too(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner = await tenant()
    member = await tenant(org_id=owner.org_id, role="viewer")
    assert (await me(client, member)).status_code == 200
    assert (await me(client, owner)).status_code == 200
    async with app.state.db.transaction() as session:  # a statement, not an object
        await session.execute(update(Membership).where(Membership.user_id == member.user_id).values(is_active=False))
    assert (await me(client, member)).status_code == 401
    assert (await me(client, owner)).status_code == 200


async def test_a_rolled_back_write_and_other_tables_leave_the_cache_alone(app: FastAPI, tenant) -> None:
    owner = await tenant()
    db: Database = app.state.db
    cache: ReadCache = app.state.auth_cache
    before = cache.mark()

    async def disable_then_fail() -> None:
        async with db.transaction() as session:
            await session.execute(update(User).where(User.id == owner.user_id).values(is_active=False))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await disable_then_fail()
    async with db.transaction() as session:
        session.add(Workflow(org_id=owner.org_id, name=f"w-{uuid.uuid4().hex[:6]}", draft={}))
    assert cache.mark() == before
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == owner.user_id).values(name="Renamed"))
    assert cache.mark() == before + 1


def test_a_row_read_before_a_commit_is_not_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A request that read the row, then saw a revoke commit before it stored it, must not keep
    the stale row for the next requests."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    cache = ReadCache(db, AUTH_TABLES, ttl_s=60)
    session_id = uuid.uuid4()
    generation = cache.mark()
    cache._watch.generation += 1  # what a commit to a watched table does
    cache.put(session_id, generation, "stale")
    assert cache.get(session_id) is None
    cache.put(session_id, cache.mark(), "fresh")
    assert cache.get(session_id) == "fresh"
    cache._watch.generation += 1
    assert cache.get(session_id) is None


async def another_process_disables(app: FastAPI, user_id: uuid.UUID) -> None:
    """As `rpa admin` on the same database would: its own engine, unseen by this process."""
    other = Database(app.state.db.url)
    try:
        async with other.transaction() as session:
            await session.execute(update(User).where(User.id == user_id).values(is_active=False))
    finally:
        await other.dispose()


async def test_another_process_write_is_believed_stale_for_at_most_the_cache_time(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    cache: ReadCache = app.state.auth_cache
    cache.ttl_s = 60.0  # long enough that this test cannot outlive it by being slow
    owner = await tenant()
    assert (await me(client, owner)).status_code == 200
    await another_process_disables(app, owner.user_id)
    assert (await me(client, owner)).status_code == 200  # believed: this process did not see the write
    cache.ttl_s = 0.2
    await asyncio.sleep(0.25)
    response = await me(client, owner)
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


async def test_with_the_cache_off_another_process_write_counts_at_once(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    app.state.auth_cache.ttl_s = 0
    owner = await tenant()
    assert (await me(client, owner)).status_code == 200
    await another_process_disables(app, owner.user_id)
    assert (await me(client, owner)).status_code == 401


def test_the_cache_time_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().read_cache_s == 1.0
    monkeypatch.setenv("RPA_READ_CACHE_S", "0")
    assert Settings().read_cache_s == 0


async def test_a_start_pins_the_version_published_just_before_it(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner = await tenant()
    cache: ReadCache = app.state.pin_cache
    cache.ttl_s = 60.0
    workflow = await create(client, owner.headers, "Pinned", flow("Pinned"))
    assert await publish(client, owner.headers, workflow["id"]) == 1

    async def start() -> dict[str, Any]:
        response = await client.post(f"{API}/executions", json={"workflow_id": workflow["id"]}, headers=owner.headers)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    assert (await start())["version_number"] == 1
    hits = cache.hits
    assert (await start())["version_number"] == 1
    assert cache.hits == hits + 1  # pinned without a query
    assert await publish(client, owner.headers, workflow["id"]) == 2
    assert (await start())["version_number"] == 2
    deleted = await client.delete(f"{API}/workflows/{workflow['id']}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text
    gone = await client.post(f"{API}/executions", json={"workflow_id": workflow["id"]}, headers=owner.headers)
    assert gone.status_code == 404, gone.text


async def test_a_pinned_version_of_one_organisation_is_not_another_s(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    app.state.pin_cache.ttl_s = 60.0
    owner, stranger = await tenant(), await tenant()
    workflow = await create(client, owner.headers, "Mine", flow("Mine"))
    await publish(client, owner.headers, workflow["id"])
    mine = await client.post(f"{API}/executions", json={"workflow_id": workflow["id"]}, headers=owner.headers)
    assert mine.status_code == 201, mine.text
    theirs = await client.post(f"{API}/executions", json={"workflow_id": workflow["id"]}, headers=stranger.headers)
    assert theirs.status_code == 404, theirs.text


# -- one read for the callers that miss together ----------------------------------------------------


class SlowRead:
    """A read that waits until the test lets it end, counting how often it was made."""

    def __init__(self, value: Any = "row") -> None:
        self.value, self.calls = value, 0
        self.gate = asyncio.Event()
        self.fail = False

    async def __call__(self) -> Any:
        self.calls += 1
        await self.gate.wait()
        if self.fail:
            self.fail = False  # only the first read fails
            raise RuntimeError("the database went away")
        return f"{self.value}#{self.calls}"


def a_cache(tmp_path) -> ReadCache:  # type: ignore[no-untyped-def]
    return ReadCache(Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"), AUTH_TABLES, ttl_s=60)


async def test_callers_that_miss_together_share_one_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache, read = a_cache(tmp_path), SlowRead()
    callers = [asyncio.create_task(cache.load("k", read)) for _ in range(10)]
    await asyncio.sleep(0)
    read.gate.set()
    assert await asyncio.gather(*callers) == ["row#1"] * 10
    assert read.calls == 1
    assert cache.reads == 1
    assert await cache.load("k", read) == "row#1"  # kept
    assert read.calls == 1


async def test_a_caller_that_missed_after_a_commit_does_not_take_the_older_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache, read = a_cache(tmp_path), SlowRead()
    first = asyncio.create_task(cache.load("k", read))
    await asyncio.sleep(0)
    cache._watch.generation += 1  # a revoke committed while the first read was under way
    second = asyncio.create_task(cache.load("k", read))
    await asyncio.sleep(0)
    read.gate.set()
    assert await first == "row#1"  # its own read: it arrived before the commit
    assert await second == "row#2"  # read again, after the commit
    assert read.calls == 2
    assert cache.get("k") == "row#2"  # the read from before the commit was not kept


async def test_a_failed_read_fails_only_its_caller_the_others_read_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache, read = a_cache(tmp_path), SlowRead()
    read.fail = True
    first = asyncio.create_task(cache.load("k", read))
    await asyncio.sleep(0)
    others = [asyncio.create_task(cache.load("k", read)) for _ in range(3)]
    await asyncio.sleep(0)
    read.gate.set()
    with pytest.raises(RuntimeError, match="went away"):
        await first
    assert await asyncio.gather(*others) == ["row#2"] * 3  # one of them read again, for all three
    assert read.calls == 2


async def test_with_the_cache_off_every_caller_reads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache, read = a_cache(tmp_path), SlowRead()
    cache.ttl_s = 0
    read.gate.set()
    assert await asyncio.gather(*(cache.load("k", read) for _ in range(3))) == ["row#1", "row#2", "row#3"]


async def test_requests_that_find_the_session_expired_in_the_cache_read_it_once(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner, cache = await cached_owner(client, app, tenant)
    cache._values.clear()  # what the cache time running out does
    reads = cache.reads
    answers = await asyncio.gather(*(me(client, owner) for _ in range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20
    assert cache.reads == reads + 1
