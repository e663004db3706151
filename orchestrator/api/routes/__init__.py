"""The API's routers, one module per resource."""

from fastapi import APIRouter

from orchestrator.api.routes import auth

ROUTERS: list[APIRouter] = [auth.router]
"""Resource routers mounted under /api/v1 (health is mounted at the root)."""
