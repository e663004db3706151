"""The /agents resource: enrolment tokens, enrolment, and the agents themselves.

`POST /agents/enroll` needs no user: the enrolment token in the body is the credential (and the
path is under the login rate limit). Tokens and keys are shown once, in the response that issues
them. An agent's status and running executions come from the WebSocket hub, when one runs.
A revocation is committed before the hub is told to drop the connection (a background task runs
after the response, hence after the commit), so a reconnecting agent finds itself revoked.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request

from orchestrator.api.deps import HubDep, PageDep, SessionDep, actor_for, client_ip, require
from orchestrator.models.agents import Agent, EnrolmentToken
from orchestrator.runtime import agents as service
from orchestrator.schemas.agents import (
    AgentEnrolled,
    AgentKeyRotated,
    AgentPublic,
    AgentStatus,
    AgentUpdate,
    EnrolmentTokenCreate,
    EnrolmentTokenCreated,
    EnrolmentTokenPublic,
    EnrolRequest,
    Label,
    TokenState,
)
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal

router = APIRouter(prefix="/agents", tags=["agents"])

Reader = Annotated[Principal, Depends(require(Permission.AGENTS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.AGENTS_MANAGE))]


def agent_public(agent: Agent, hub: service.AgentHub | None) -> AgentPublic:
    presence = service.presence_of(agent, hub)
    return AgentPublic(
        id=agent.id,
        org_id=agent.org_id,
        name=agent.name,
        hostname=agent.hostname,
        labels=list(agent.labels or []),
        capabilities=list(agent.capabilities or []),
        steps=list(agent.steps or []),
        version=agent.version,
        max_jobs=agent.max_jobs,
        status=presence.status,
        running=presence.running,
        last_seen_at=agent.last_seen_at,
        connected_at=agent.connected_at,
        disconnected_at=agent.disconnected_at,
        revoked_at=agent.revoked_at,
        enrolled_with=agent.enrolled_with,
        created_at=agent.created_at,
        updated_at=agent.updated_at,
    )


def token_public(token: EnrolmentToken) -> EnrolmentTokenPublic:
    return EnrolmentTokenPublic(
        id=token.id,
        org_id=token.org_id,
        labels=list(token.labels or []),
        description=token.description,
        state=service.token_state(token),
        expires_at=token.expires_at,
        used_at=token.used_at,
        agent_id=token.agent_id,
        revoked_at=token.revoked_at,
        created_by=token.created_by,
        created_at=token.created_at,
    )


# Static paths first: "/enrolment-tokens" and "/enroll" must not be read as agent ids.


@router.post(
    "/enrolment-tokens",
    response_model=EnrolmentTokenCreated,
    status_code=201,
    summary="Make a one-time enrolment token (its value is shown only here)",
)
async def create_token(
    body: EnrolmentTokenCreate, principal: Manager, session: SessionDep, request: Request
) -> EnrolmentTokenCreated:
    token, value = await service.create_enrolment_token(
        session,
        actor_for(request, principal),
        principal.org_id,
        labels=body.labels,
        expires_in_s=body.expires_in_s,
        description=body.description,
    )
    return EnrolmentTokenCreated(
        id=token.id,
        token=value,
        labels=list(token.labels),
        expires_at=token.expires_at,
        description=token.description,
        created_at=token.created_at,
    )


@router.get(
    "/enrolment-tokens",
    response_model=Page[EnrolmentTokenPublic],
    summary="List enrolment tokens (without their values)",
)
async def list_tokens(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    state: Annotated[TokenState | None, Query(description="Only tokens in this state.")] = None,
) -> Page[EnrolmentTokenPublic]:
    rows, total = await service.list_tokens(
        session, principal.org_id, state=state, limit=page.limit, offset=page.offset
    )
    return Page(items=[token_public(row) for row in rows], total=total, limit=page.limit, offset=page.offset)


@router.delete(
    "/enrolment-tokens/{token_id}",
    status_code=204,
    summary="Revoke an unused enrolment token (409 once used: revoke its agent)",
)
async def revoke_token(token_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request) -> None:
    await service.revoke_token(session, actor_for(request, principal), principal.org_id, token_id)


@router.post(
    "/enroll",
    response_model=AgentEnrolled,
    status_code=201,
    summary="Enrol an agent with a one-time token (no user token: the enrolment token is the credential)",
    description="401 `invalid_enrolment_token` when the token is unknown, used, expired or revoked "
    "(the answer does not say which). The agent key is shown only here.",
)
async def enroll(body: EnrolRequest, session: SessionDep, request: Request) -> AgentEnrolled:
    agent, key = await service.enroll(
        session,
        body.token,
        name=body.name,
        hostname=body.hostname,
        labels=body.labels,
        version=body.version,
        ip=client_ip(request),
        request_id=getattr(request.state, "request_id", None),
    )
    return AgentEnrolled(
        agent_id=agent.id, org_id=agent.org_id, agent_key=key, name=agent.name, labels=list(agent.labels)
    )


@router.get("", response_model=Page[AgentPublic], summary="List agents")
async def list_agents(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    hub: HubDep,
    status: Annotated[AgentStatus | None, Query(description="Only agents with this status.")] = None,
    label: Annotated[Label | None, Query(description="Only agents carrying this label.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Name or hostname contains.")] = None,
) -> Page[AgentPublic]:
    rows, total = await service.list_agents(
        session, principal.org_id, service.AgentFilter(status, label, q), hub=hub, limit=page.limit, offset=page.offset
    )
    return Page(items=[agent_public(row, hub) for row in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{agent_id}", response_model=AgentPublic, summary="An agent")
async def get(agent_id: uuid.UUID, principal: Reader, session: SessionDep, hub: HubDep) -> AgentPublic:
    agent = await service.get_agent(session, principal.org_id, agent_id)
    return agent_public(agent, hub)


@router.patch("/{agent_id}", response_model=AgentPublic, summary="Rename an agent, change its labels or job limit")
async def update(
    agent_id: uuid.UUID, body: AgentUpdate, principal: Manager, session: SessionDep, request: Request, hub: HubDep
) -> AgentPublic:
    agent = await service.update_agent(session, actor_for(request, principal), principal.org_id, agent_id, body)
    return agent_public(agent, hub)


@router.post(
    "/{agent_id}/revoke",
    response_model=AgentPublic,
    summary="Revoke an agent: its key stops working and its connection is closed",
)
async def revoke(
    agent_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    request: Request,
    hub: HubDep,
    background: BackgroundTasks,
) -> AgentPublic:
    agent = await service.revoke_agent(session, actor_for(request, principal), principal.org_id, agent_id)
    background.add_task(service.notify_agent_revoked, hub, agent.id)
    return agent_public(agent, hub)


@router.post(
    "/{agent_id}/rotate-key",
    response_model=AgentKeyRotated,
    summary="Give an agent a new key: the old one stops working and its connection is closed",
)
async def rotate_key(
    agent_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    request: Request,
    hub: HubDep,
    background: BackgroundTasks,
) -> AgentKeyRotated:
    agent, key = await service.rotate_agent_key(session, actor_for(request, principal), principal.org_id, agent_id)
    # The live connection was opened with the old key: it is closed once the new key is committed.
    background.add_task(service.notify_agent_revoked, hub, agent.id, reason="key rotated")
    return AgentKeyRotated(agent_id=agent.id, name=agent.name, agent_key=key)


@router.delete("/{agent_id}", status_code=204, summary="Delete an agent (revoking it)")
async def delete(
    agent_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    request: Request,
    hub: HubDep,
    background: BackgroundTasks,
) -> None:
    agent = await service.delete_agent(session, actor_for(request, principal), principal.org_id, agent_id)
    background.add_task(service.notify_agent_revoked, hub, agent.id)
