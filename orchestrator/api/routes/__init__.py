"""The API's routers, one module per resource."""

from fastapi import APIRouter

from orchestrator.api.routes import (
    agents,
    audit,
    auth,
    credentials,
    executions,
    orgs,
    roles,
    templates,
    users,
    workflows,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    orgs.router,
    users.router,
    roles.router,
    workflows.router,
    templates.router,
    executions.router,
    credentials.router,
    agents.router,
    audit.router,
]
"""Resource routers mounted under /api/v1 (health is mounted at the root)."""
