"""Session checkpoints at the orchestrator: sealed at rest under the vault's data key and bound to
their execution, latest wins per session, never among the artifacts users see, gone with the
execution (purger), and handed back in `job.assign` only for a resume."""

from __future__ import annotations

import os
import time
import uuid

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.services.execution_states import State
from orchestrator.services.session_checkpoints import NAMESPACE, SessionCheckpoints
from tests.orchestrator._execution_helpers import make_execution, make_workflow

API = "/api/v1"
COOKIE = "sid-7f3a9c-very-secret-cookie"
STATE = {"format": 1, "key": "browser:main", "urls": ["http://erp/"], "storage_state": {"cookies": [COOKIE]}}

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _checkpoints(app: FastAPI) -> SessionCheckpoints:
    found: SessionCheckpoints = app.state.session_checkpoints
    return found


async def test_a_checkpoint_is_sealed_bound_to_its_execution_and_latest_wins(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    execution = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    other = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    checkpoints = _checkpoints(app)

    await checkpoints.put(owner.org_id, execution, "browser:main", STATE)
    await checkpoints.put(owner.org_id, execution, "browser:main", {**STATE, "urls": ["http://erp/2"]})
    await checkpoints.put(owner.org_id, execution, "browser:other", STATE)
    loaded = await checkpoints.load(owner.org_id, execution)
    assert loaded["browser:main"]["urls"] == ["http://erp/2"]
    assert set(loaded) == {"browser:main", "browser:other"}

    root = app.state.settings.data_dir / "artifacts" / NAMESPACE
    (sealed,) = [p for p in root.rglob("*") if p.is_file()]
    assert COOKIE.encode() not in sealed.read_bytes()
    assert oct(sealed.stat().st_mode & 0o777) == oct(0o600)
    # Moved to another execution (or organisation), it does not open.
    moved = root / str(owner.org_id) / str(other)
    moved.write_bytes(sealed.read_bytes())
    assert await checkpoints.load(owner.org_id, other) == {}

    await checkpoints.put(owner.org_id, execution, "browser:main", None)
    assert set(await checkpoints.load(owner.org_id, execution)) == {"browser:other"}
    await checkpoints.put(owner.org_id, execution, "browser:other", None)
    assert not (root / str(owner.org_id) / str(execution)).exists()


async def test_checkpoints_are_not_artifacts(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    execution = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    await _checkpoints(app).put(owner.org_id, execution, "browser:main", STATE)
    listed = await client.get(f"{API}/executions/{execution}/artifacts", headers=owner.headers)
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    searched = await client.get(f"{API}/artifacts", headers=owner.headers)
    assert searched.json()["items"] == []
    assert COOKIE not in listed.text + searched.text


async def test_the_purger_removes_the_checkpoints_of_ended_gone_and_stale_executions(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    running = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    stale = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    ended = await make_execution(app, owner.org_id, workflow, state=State.TIMED_OUT)
    gone = uuid.uuid4()
    checkpoints = _checkpoints(app)
    for execution in (running, stale, ended, gone):
        await checkpoints.put(owner.org_id, execution, "browser:main", STATE)
    root = app.state.settings.data_dir / "artifacts" / NAMESPACE / str(owner.org_id)
    old = time.time() - checkpoints.max_age_s - 60
    os.utime(root / str(stale), (old, old))

    await app.state.artifact_purger.purge()

    assert sorted(p.name for p in root.iterdir()) == [str(running)]
    assert (await checkpoints.load(owner.org_id, running))["browser:main"] == STATE
