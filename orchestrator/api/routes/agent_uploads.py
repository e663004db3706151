"""The agent's HTTP channel: `PUT /api/v1/agents/me/artifacts/{execution_id}` uploads a file an
execution made; `GET /api/v1/agents/me/assets/{execution_id}/{sha256}` fetches a file its job needs.

Authenticated by the agent's own key (not a user token). The body is streamed into the artifact
store and refused (413) past `max_artifact_bytes` or what is left of the execution's and the
organisation's quotas; a content type not in `artifact_content_types` is stored as
`application/octet-stream`. Only the agent that holds the execution may
add to it, anyone else gets 404, as for an object of another organisation.

An asset is read only by the agent holding the execution, and only a content the execution's
version, or the published version of a sub-flow it calls (`flow.call`, transitively), holds: any
other hash (even one another workflow or organisation holds) is 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.api.deps import SessionDep
from orchestrator.errors import ApiError, NotFound, Unauthorized
from orchestrator.models.agents import Agent
from orchestrator.models.executions import Execution
from orchestrator.models.workflows import WorkflowAssetBlob, WorkflowVersion
from orchestrator.runtime.agents import authenticate_agent
from orchestrator.schemas.executions import ArtifactPublic
from orchestrator.services.artifacts import artifact_store, receive_artifact, safe_content_type
from orchestrator.services.subflow_versions import called_versions
from orchestrator.services.workflow_assets import read_blob_for_version
from shared.protocol import AGENT_KEY_PREFIX

router = APIRouter(prefix="/agents/me", tags=["agents"])


async def current_agent(request: Request, session: SessionDep) -> Agent:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else ""
    agent = await authenticate_agent(session, key) if key.startswith(AGENT_KEY_PREFIX) else None
    if agent is None:
        raise Unauthorized(
            "an agent key is required (Authorization: Bearer rpa_ak_…)", headers={"WWW-Authenticate": "Bearer"}
        )
    return agent


AgentDep = Annotated[Agent, Depends(current_agent)]


@router.put(
    "/artifacts/{execution_id}",
    response_model=ArtifactPublic,
    status_code=201,
    summary="Upload an artifact of an execution this agent runs (agent key; streamed, size-limited)",
)
async def upload(
    execution_id: uuid.UUID,
    request: Request,
    agent: AgentDep,
    session: SessionDep,
    name: Annotated[str, Query(min_length=1, max_length=255, description="The file's name.")],
) -> ArtifactPublic:
    execution = await session.get(Execution, execution_id)
    if execution is None or execution.org_id != agent.org_id or execution.agent_id != agent.id:
        raise NotFound(f"no execution {execution_id} of this agent")
    settings = request.app.state.settings
    content_type = safe_content_type(request.headers.get("content-type"), settings.artifact_content_types)
    # The quotas are checked before a byte is read, and bound what this upload may add.
    artifact = await receive_artifact(
        session,
        artifact_store(settings),
        execution,
        name=name,
        chunks=request.stream(),
        limit=settings.max_artifact_bytes,
        content_type=content_type,
        execution_quota=settings.max_artifact_bytes_per_execution,
        org_quota=settings.max_artifact_bytes_per_org,
    )
    return ArtifactPublic.of(artifact)


Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The content's sha256 (hex).")]


@router.get(
    "/assets/{execution_id}/{sha256}",
    summary="Download an asset of the version an execution of this agent runs (agent key)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_asset(execution_id: uuid.UUID, sha256: Sha256, agent: AgentDep, session: SessionDep) -> Response:
    execution = await session.get(Execution, execution_id)
    if execution is None or execution.org_id != agent.org_id or execution.agent_id != agent.id:
        raise NotFound(f"no execution {execution_id} of this agent")
    blob = await _blob_of_job(session, execution, sha256)
    return Response(
        content=blob.data,
        media_type="application/octet-stream",
        headers={"ETag": f'"{blob.sha256}"', "X-Content-Type-Options": "nosniff"},
    )


async def _blob_of_job(session: AsyncSession, execution: Execution, sha256: str) -> WorkflowAssetBlob:
    """The content `sha256` of the execution's version or of one of the sub-flow versions its job
    carries (resolved as the dispatcher did: the published version of each called name)."""
    try:
        return await read_blob_for_version(session, execution.org_id, execution.version_id, sha256)
    except NotFound as missing:
        version = await session.get(WorkflowVersion, execution.version_id)
        if version is None:
            raise
        try:
            called = await called_versions(session, execution.org_id, dict(version.document))
        except ApiError:  # a sub-flow gone or unpublished since: only the root's files are left
            raise missing from None
        for sub in called.values():
            if sha256 in set((sub.assets or {}).values()):
                return await read_blob_for_version(session, execution.org_id, sub.id, sha256)
        raise
