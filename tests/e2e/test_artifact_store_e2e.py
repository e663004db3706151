"""A real agent uploads an execution's files to an orchestrator whose artifact store is moto's S3
server (127.0.0.1): the files land in the bucket, runs of one workflow make versions, and users
download the latest or an older one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._cluster import Agent, Orchestrator, wait_for
from tests.servers import moto_s3

pytestmark = pytest.mark.slow
BUCKET = "rpa-artifacts"
CREDENTIALS = {"key": "test", "secret": "test"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3(BUCKET) as endpoint:
        yield endpoint


def _keys(endpoint: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_an_agent_uploads_to_s3_and_runs_make_versions(tmp_path: Path, s3_endpoint: str) -> None:
    options = {**CREDENTIALS, "endpoint_url": s3_endpoint, "client_kwargs": {"region_name": "us-east-1"}}
    orchestrator = Orchestrator(
        tmp_path,
        extra_env={"RPA_ARTIFACT_STORE": f"s3://{BUCKET}/prod", "RPA_ARTIFACT_STORE_OPTIONS": json.dumps(options)},
    )
    agent: Agent | None = None
    try:
        orchestrator.start()
        orchestrator.setup_owner()
        agent = Agent(tmp_path, orchestrator, "alpha")
        agent.start()
        agent.wait_online()
        workflow = orchestrator.publish(_flow())
        runs = []
        for _ in range(2):
            execution = orchestrator.start_execution(workflow)
            assert orchestrator.wait_state(execution, {"succeeded", "failed"})["state"] == "succeeded"
            runs.append(execution)
            wait_for(
                lambda e=execution: orchestrator.api("GET", "/artifacts", params={"execution_id": e})["items"],
                30,
                "the artifact upload",
            )
        listed: list[dict[str, Any]] = orchestrator.api("GET", "/artifacts", params={"workflow_id": workflow})["items"]
        names = {(a["name"], a["version"], a["execution_id"]) for a in listed}
        name = listed[0]["name"]
        assert {(name, 1, runs[0]), (name, 2, runs[1])} <= names
        keys = _keys(s3_endpoint)
        assert all(key.startswith("prod/") for key in keys)
        assert {f"{a['execution_id']}/{a['id']}" for a in listed} <= {k.split("/", 2)[2] for k in keys}
        assert not (tmp_path / "orchestrator" / "artifacts").exists()
        auth = {"Authorization": f"Bearer {orchestrator.client.access_token}"}
        url = f"{orchestrator.url}/api/v1/artifacts/file"
        latest = httpx.get(url, params={"workflow_id": workflow, "name": name}, headers=auth)
        first = httpx.get(url, params={"workflow_id": workflow, "name": name, "version": 1}, headers=auth)
        assert latest.status_code == first.status_code == 200
        assert runs[1].encode() in latest.content
        assert runs[0].encode() in first.content
    finally:
        if agent is not None:
            agent.stop()
        orchestrator.stop()


def _flow() -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": "Report",
        "nodes": [
            {
                "id": "make",
                "type": "data.template",
                "params": {"template": "{{ 'x' * 300000 }} {{ execution.id | default('?') }}"},
            }
        ],
    }
