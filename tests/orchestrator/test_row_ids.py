"""Row ids grow with time (`db.base.new_id`), so rows inserted together sit together in their indexes."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from orchestrator.db.base import new_id
from tests.orchestrator._execution_helpers import make_execution, make_workflow


def test_new_ids_are_version_7_and_only_grow() -> None:
    ids = [new_id() for _ in range(5000)]  # far more than one per millisecond
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, uuid.UUID) for i in ids)


async def test_executions_started_one_after_another_have_growing_ids(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    ids = [await make_execution(app, owner.org_id, workflow_id) for _ in range(5)]
    assert ids == sorted(ids)
    assert {i.version for i in ids} == {7}
