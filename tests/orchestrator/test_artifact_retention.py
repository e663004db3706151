"""Artifact retention: organisation and workflow rules (days, keep-last-N versions) applied by the
purger, files and rows removed together, stale partial uploads removed; and two purgers racing on
PostgreSQL deleting every expired file exactly once."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from orchestrator.db.base import utcnow
from orchestrator.errors import Invalid
from orchestrator.models.executions import Artifact
from orchestrator.runtime.artifact_purger import ArtifactPurger
from orchestrator.services.artifact_retention import set_retention
from orchestrator.services.artifact_store import LocalStore
from orchestrator.services.artifacts import artifact_root, artifact_store
from orchestrator.services.execution_states import State
from tests.orchestrator._execution_helpers import make_execution, make_workflow
from tests.orchestrator.test_executions import register


class CountingStore(LocalStore):
    """The real folder store, counting the deletes of each key (what the race test checks)."""

    def __init__(self, root: Any) -> None:
        super().__init__(root)
        self.deleted: Counter[str] = Counter()

    def delete(self, key: str) -> bool:
        gone = super().delete(key)
        if gone:
            self.deleted[key] += 1
        return gone


async def _backdate(app: FastAPI, ids: list[uuid.UUID], days: int) -> None:
    async with app.state.db.transaction() as session:
        await session.execute(
            update(Artifact).where(Artifact.id.in_(ids)).values(created_at=utcnow() - timedelta(days=days))
        )


async def _left(app: FastAPI) -> set[uuid.UUID]:
    async with app.state.db.transaction() as session:
        return set(await session.scalars(select(Artifact.id)))


async def test_rules_of_organisations_and_workflows_purge_files_and_rows(app: FastAPI, tenant) -> None:
    owner = await tenant()
    other = await tenant()
    kept_flow, dated_flow = await make_workflow(app, owner.org_id), await make_workflow(app, owner.org_id)
    run = await make_execution(app, owner.org_id, kept_flow, state=State.RUNNING)
    dated_run = await make_execution(app, owner.org_id, dated_flow, state=State.RUNNING)
    other_run = await make_execution(app, other.org_id, await make_workflow(app, other.org_id), state=State.RUNNING)
    # Organisation rule: keep the last 2 versions of a name.
    versions = [await register(app, owner.org_id, run, "report.csv", f"v{i}".encode()) for i in range(4)]
    single = await register(app, owner.org_id, run, "log.txt", b"log")
    # Workflow rule (overrides the organisation's): 5 days, any number of versions.
    old = [await register(app, owner.org_id, dated_run, "out.csv", f"o{i}".encode()) for i in range(3)]
    fresh = await register(app, owner.org_id, dated_run, "new.csv", b"n")
    # Another organisation without a rule, and no default: nothing of it goes.
    untouched = await register(app, other.org_id, other_run, "report.csv", b"x")
    await _backdate(app, [a.id for a in old], days=6)
    await _backdate(app, [untouched.id], days=400)
    async with app.state.db.transaction() as session:
        await set_retention(session, owner.org_id, workflow_id=None, days=None, keep_last=2)
        await set_retention(session, owner.org_id, workflow_id=dated_flow, days=5, keep_last=None)
        with pytest.raises(Invalid):
            await set_retention(session, owner.org_id, workflow_id=None, days=0, keep_last=None)

    purged = await app.state.artifact_purger.purge()
    expected = {versions[0].id, versions[1].id, *(a.id for a in old)}
    assert set(purged) == expected
    left = await _left(app)
    assert left.isdisjoint(expected)
    assert {versions[2].id, versions[3].id, single.id, fresh.id, untouched.id} <= left
    store = artifact_store(app.state.settings)
    assert not store.exists(versions[0].path)
    assert store.exists(versions[3].path)
    assert await app.state.artifact_purger.purge() == []  # nothing more to do


async def test_stale_partial_uploads_are_purged(app: FastAPI) -> None:
    root = artifact_root(app.state.settings)
    stale, recent = root / "o" / "e" / "a.part", root / "o" / "e" / "b.part"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"x")
    recent.write_bytes(b"y")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    await app.state.artifact_purger.purge()
    assert not stale.exists()
    assert recent.exists()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_purgers_racing_on_postgres_delete_each_file_once(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    run = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    made = [await register(app, owner.org_id, run, f"f{i}.bin", b"z" * 10) for i in range(30)]
    keep = await register(app, owner.org_id, run, "keep.bin", b"k")
    await _backdate(app, [a.id for a in made], days=10)
    async with app.state.db.transaction() as session:
        await set_retention(session, owner.org_id, workflow_id=None, days=3, keep_last=None)
    store = CountingStore(artifact_root(app.state.settings))
    # Two replicas: separate purgers, separate connections to one database, small batches.
    first, second = (ArtifactPurger(app.state.db, store, default_days=None, interval_s=60, batch=3) for _ in "ab")
    a, b = await asyncio.gather(first.purge(), second.purge())
    assert set(a).isdisjoint(b)
    assert set(a) | set(b) == {x.id for x in made}
    assert set(store.deleted.values()) == {1}
    assert len(store.deleted) == 30
    assert await _left(app) == {keep.id}


async def test_retention_is_set_through_the_api_by_managers_only(app: FastAPI, client: Any, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    workflow = await make_workflow(app, owner.org_id)
    url = "/api/v1/artifacts/retention"
    org_rule = await client.put(url, json={"days": 30, "keep_last": 5}, headers=owner.headers)
    assert org_rule.status_code == 200, org_rule.text
    assert org_rule.json() == {"workflow_id": None, "days": 30, "keep_last": 5}
    flow_rule = await client.put(url, json={"workflow_id": str(workflow), "keep_last": 1}, headers=owner.headers)
    assert flow_rule.json() == {"workflow_id": str(workflow), "days": None, "keep_last": 1}
    again = await client.put(url, json={"days": 7}, headers=owner.headers)
    assert again.json() == {"workflow_id": None, "days": 7, "keep_last": None}
    assert (await client.put(url, json={"days": 0}, headers=owner.headers)).status_code == 422
    assert (await client.put(url, json={"days": 1, "x": 1}, headers=owner.headers)).status_code == 422
    assert (await client.put(url, json={"days": 1}, headers=viewer.headers)).status_code == 403
