"""The API's routers, one module per resource."""

from fastapi import APIRouter

from orchestrator.api.routes import (
    agents,
    ai,
    artifact_retention,
    artifacts,
    audit,
    auth,
    credentials,
    dashboard,
    events,
    executions,
    hooks,
    invitations,
    orgs,
    roles,
    templates,
    triggers,
    users,
    workflow_assets,
    workflows,
)

ROUTERS: list[APIRouter] = [
    executions.router,
    hooks.router,  # webhook calls: a hot path, like starts
    workflows.router,
    triggers.router,
    events.router,
    workflow_assets.router,
    agents.router,
    auth.router,
    credentials.router,
    orgs.router,
    users.router,
    invitations.router,
    roles.router,
    templates.router,
    artifact_retention.router,  # before artifacts.router: /artifacts/{artifact_id} would take it
    artifacts.router,
    audit.router,
    ai.router,
    dashboard.router,
]
"""Resource routers mounted under /api/v1 (health is mounted at the root). FastAPI tries routes in order,
one by one, so the busiest come first: starting executions is the hot path."""
