"""Artifact versions per (workflow, name), metadata queries through /artifacts (org-scoped, paged),
downloads of the latest or any version, and migration 0014 numbering existing rows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from alembic import command
from fastapi import FastAPI
from sqlalchemy import Connection, create_engine, inspect, text, update

from orchestrator.db.base import utcnow
from orchestrator.db.migrate import alembic_config, upgrade
from orchestrator.models.executions import Artifact
from orchestrator.services.execution_states import State
from tests.orchestrator._execution_helpers import make_execution, make_workflow
from tests.orchestrator.test_executions import register

API = "/api/v1"


async def test_a_name_kept_again_is_a_new_version_and_the_latest_is_the_default(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    stranger = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    other_workflow = await make_workflow(app, owner.org_id)
    runs = [await make_execution(app, owner.org_id, workflow, state=State.RUNNING) for _ in range(3)]
    made = [await register(app, owner.org_id, run, "report.csv", f"v{i + 1}".encode()) for i, run in enumerate(runs)]
    assert [a.version for a in made] == [1, 2, 3]
    # Another name, and the same name in another workflow, count on their own.
    assert (await register(app, owner.org_id, runs[0], "shot.png", b"png")).version == 1
    elsewhere = await make_execution(app, owner.org_id, other_workflow, state=State.RUNNING)
    assert (await register(app, owner.org_id, elsewhere, "report.csv", b"other")).version == 1

    by_name = f"{API}/artifacts/file"
    latest = await client.get(
        by_name, params={"workflow_id": str(workflow), "name": "report.csv"}, headers=viewer.headers
    )
    assert latest.status_code == 200
    assert latest.content == b"v3"
    assert latest.headers["x-content-type-options"] == "nosniff"
    first = await client.get(
        by_name, params={"workflow_id": str(workflow), "name": "report.csv", "version": 1}, headers=viewer.headers
    )
    assert first.content == b"v1"
    absent = await client.get(
        by_name, params={"workflow_id": str(workflow), "name": "report.csv", "version": 9}, headers=viewer.headers
    )
    assert absent.status_code == 404
    assert "version 9" in absent.json()["error"]["message"]
    hidden = await client.get(
        by_name, params={"workflow_id": str(workflow), "name": "report.csv"}, headers=stranger.headers
    )
    assert hidden.status_code == 404

    listed = (
        await client.get(f"{API}/artifacts", params={"workflow_id": str(workflow)}, headers=viewer.headers)
    ).json()
    assert listed["total"] == 4
    assert [(a["name"], a["version"]) for a in listed["items"]] == [
        ("shot.png", 1),
        ("report.csv", 3),
        ("report.csv", 2),
        ("report.csv", 1),
    ]
    newest = (
        await client.get(
            f"{API}/artifacts", params={"workflow_id": str(workflow), "latest": True}, headers=viewer.headers
        )
    ).json()
    assert sorted((a["name"], a["version"]) for a in newest["items"]) == [("report.csv", 3), ("shot.png", 1)]
    by_id = await client.get(f"{API}/artifacts/{made[1].id}", headers=viewer.headers)
    assert by_id.content == b"v2"
    meta = (await client.get(f"{API}/artifacts/{made[1].id}/meta", headers=viewer.headers)).json()
    assert (meta["version"], meta["workflow_id"], meta["execution_id"]) == (2, str(workflow), str(runs[1]))
    assert (await client.get(f"{API}/artifacts/{made[1].id}", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"{API}/artifacts/{made[1].id}/meta", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"{API}/artifacts", headers=stranger.headers)).json()["total"] == 0


async def test_artifacts_are_queried_by_execution_name_and_date_page_by_page(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    run = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    other = await make_execution(app, owner.org_id, workflow, state=State.RUNNING)
    kept = [await register(app, owner.org_id, run, f"f{i}.txt", b"x") for i in range(5)]
    await register(app, owner.org_id, other, "f0.txt", b"y")
    # Back-date two files: a date range finds them.
    old = utcnow() - timedelta(days=10)
    async with app.state.db.transaction() as session:
        await session.execute(update(Artifact).where(Artifact.id.in_([kept[0].id, kept[1].id])).values(created_at=old))
    query = f"{API}/artifacts"
    page1 = (await client.get(query, params={"execution_id": str(run), "limit": 2}, headers=owner.headers)).json()
    page3 = (
        await client.get(query, params={"execution_id": str(run), "limit": 2, "offset": 4}, headers=owner.headers)
    ).json()
    assert (page1["total"], len(page1["items"]), len(page3["items"])) == (5, 2, 1)
    assert page3["items"][0]["name"] == "f0.txt"
    named = (await client.get(query, params={"name": "f0.txt"}, headers=owner.headers)).json()
    assert sorted(a["execution_id"] for a in named["items"]) == sorted([str(run), str(other)])
    before = (old + timedelta(days=1)).isoformat()
    dated = (await client.get(query, params={"created_to": before}, headers=owner.headers)).json()
    assert sorted(a["name"] for a in dated["items"]) == ["f0.txt", "f1.txt"]
    recent = (
        await client.get(query, params={"created_from": before, "execution_id": str(run)}, headers=owner.headers)
    ).json()
    assert recent["total"] == 3
    bad = await client.get(query, params={"workflow_id": "not-a-uuid"}, headers=owner.headers)
    assert bad.status_code == 422


_T = "2026-12-01 00:00:00.000000"


def _seed_0012(connection: Connection, org: uuid.UUID, workflow: uuid.UUID, execution: uuid.UUID) -> None:
    """An organisation, an execution and three artifacts (two named alike) as 0012 stores them."""
    connection.execute(
        text(
            "INSERT INTO organisations (id, name, slug, password_policy, ip_allowlist, created_at, updated_at) "
            "VALUES (:id, 'o', 'o', '{}', '[]', :t, :t)"
        ),
        {"id": org.hex, "t": _T},
    )
    connection.execute(
        text(
            "INSERT INTO executions (id, org_id, workflow_id, version_id, version_number, workflow_name, state, "
            'priority, inputs, "trigger", trigger_type, attempt, last_seq, created_at, updated_at) VALUES '
            "(:id, :org, :wf, :wf, 1, 'w', 'running', 0, '{}', '{}', 'manual', 1, 0, :t, :t)"
        ),
        {"id": execution.hex, "org": org.hex, "wf": workflow.hex, "t": _T},
    )
    for i, (name, second) in enumerate([("a.txt", 3), ("a.txt", 1), ("b.txt", 2)]):
        connection.execute(
            text(
                "INSERT INTO artifacts (id, org_id, execution_id, name, path, size, content_type, sha256, created_at) "
                "VALUES (:id, :org, :ex, :name, 'p', 1, 'text/plain', 'h', :t)"
            ),
            {
                "id": uuid.UUID(int=i + 1).hex,
                "org": org.hex,
                "ex": execution.hex,
                "name": name,
                "t": f"2026-12-01 00:00:0{second}.000000",
            },
        )


async def test_0014_numbers_existing_artifacts_and_goes_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orchestrator.db'}"
    await upgrade(url, "0013")
    engine = create_engine(f"sqlite:///{tmp_path / 'orchestrator.db'}")
    org, workflow, execution = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        with engine.begin() as connection:
            _seed_0012(connection, org, workflow, execution)
        await upgrade(url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, created_at, version, workflow_id FROM artifacts")).all()
            # Numbered by creation time per name: the later a.txt is version 2.
            assert sorted((r[0], r[1][:19], r[2]) for r in rows) == [
                ("a.txt", "2026-12-01 00:00:01", 1),
                ("a.txt", "2026-12-01 00:00:03", 2),
                ("b.txt", "2026-12-01 00:00:02", 1),
            ]
            assert {r[3] for r in rows} == {workflow.hex}
            assert "artifact_retention" in inspect(connection).get_table_names()
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0013")
        with engine.connect() as connection:
            assert "version" not in {c["name"] for c in inspect(connection).get_columns("artifacts")}
            assert "artifact_retention" not in inspect(connection).get_table_names()
        await upgrade(url)
    finally:
        engine.dispose()


async def test_uploads_of_one_name_at_once_get_distinct_versions(app: FastAPI, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    runs = [await make_execution(app, owner.org_id, workflow, state=State.RUNNING) for _ in range(4)]
    made = await asyncio.gather(*(register(app, owner.org_id, run, "same.csv", b"x") for run in runs))
    assert sorted(a.version for a in made) == [1, 2, 3, 4]
