"""Moving artifact files from one store to another: verified copies under the same keys, a run
that resumes where an interrupted one ended, a damaged source reported, and the `rpa artifacts
migrate` command (to moto's S3 server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from orchestrator.cli import artifacts_app
from orchestrator.services.artifact_migration import migrate_artifacts
from orchestrator.services.artifact_store import LocalStore, open_store
from orchestrator.services.artifacts import artifact_root, artifact_store
from orchestrator.services.execution_states import State
from tests.orchestrator._execution_helpers import make_execution, make_workflow
from tests.orchestrator.test_executions import register
from tests.servers import moto_s3

BUCKET = "migrated"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3(BUCKET) as endpoint:
        yield endpoint


def _read(store: Any, key: str) -> bytes:
    with store.open(key) as file:
        data: bytes = file.read()
    return data


async def _three(app: FastAPI, tenant: Any) -> list[Any]:
    owner = await tenant()
    run = await make_execution(app, owner.org_id, await make_workflow(app, owner.org_id), state=State.RUNNING)
    return [await register(app, owner.org_id, run, f"f{i}.txt", f"content {i}".encode() * (i + 1)) for i in range(3)]


async def test_files_are_copied_verified_and_a_second_run_skips_them(app: FastAPI, tenant: Any, tmp_path: Path) -> None:
    made = await _three(app, tenant)
    source = artifact_store(app.state.settings)
    target = LocalStore(tmp_path / "new-store")
    # An interrupted run: one file made it already.
    (tmp_path / "new-store" / made[0].path).parent.mkdir(parents=True)
    (tmp_path / "new-store" / made[0].path).write_bytes(_read(source, made[0].path))

    first = await migrate_artifacts(app.state.db.sessions, source, target, batch=2)
    assert (first.copied, first.present, first.failed) == (2, 1, {})
    for artifact in made:
        assert _read(target, artifact.path) == _read(source, artifact.path)
    again = await migrate_artifacts(app.state.db.sessions, source, target)
    assert (again.copied, again.present) == (0, 3)
    assert source.exists(made[0].path)  # the source is left as it was


async def test_a_damaged_or_missing_source_file_is_reported_and_not_kept(
    app: FastAPI, tenant: Any, tmp_path: Path
) -> None:
    made = await _three(app, tenant)
    root = artifact_root(app.state.settings)
    (root / made[1].path).write_bytes(b"bit rot")
    (root / made[2].path).unlink()
    target = LocalStore(tmp_path / "new-store")

    report = await migrate_artifacts(app.state.db.sessions, artifact_store(app.state.settings), target)
    assert report.copied == 1
    assert set(report.failed) == {made[1].id, made[2].id}
    assert "the row says" in report.failed[made[1].id]
    assert "ArtifactMissing" in report.failed[made[2].id]
    assert not target.exists(made[1].path)
    assert not target.exists(made[1].path + ".part")


async def test_the_command_moves_every_file_to_s3(app: FastAPI, tenant: Any, s3_endpoint: str) -> None:
    made = await _three(app, tenant)
    settings = app.state.settings
    prefix = f"s3://{BUCKET}/{uuid.uuid4().hex}"
    options = f'{{"key": "k", "secret": "s", "endpoint_url": "{s3_endpoint}"}}'
    database = ["--database-url", settings.database_url] if settings.database_url else []
    # The command runs its own event loop, as from a shell: in a thread here.
    result = await asyncio.to_thread(
        CliRunner().invoke,
        artifacts_app,
        ["migrate", "--to", prefix, "--to-options", options, "--data-dir", str(settings.data_dir), *database],
        env={"RPA_ENVIRONMENT": "test"},
    )
    assert result.exit_code == 0, result.output
    assert "done: 3 copied" in result.output
    assert f"set RPA_ARTIFACT_STORE={prefix}" in result.output
    target = open_store(prefix, Path("unused"), {"key": "k", "secret": "s", "endpoint_url": s3_endpoint})
    for artifact in made:
        assert target.size(artifact.path) == artifact.size
