"""The API's flat route table (`api/route_table.py`) serves what FastAPI's included routers did."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount

from orchestrator.api import errors
from orchestrator.api.route_table import add_flat
from orchestrator.api.routes import ROUTERS, agent_socket, agent_uploads, health
from orchestrator.app import API_PREFIX, create_app
from orchestrator.settings import Settings


def _included(like: FastAPI) -> FastAPI:
    """The same routers, included the way FastAPI includes them (a branch per router), in an app
    described as `like` is."""
    app = FastAPI(
        title=like.title, version=like.version, description=like.description, responses=errors.ERROR_RESPONSES
    )
    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX)
    for router in [*ROUTERS, agent_socket.router, agent_uploads.router]:
        api.include_router(router)
    app.include_router(api)
    return app


def test_the_flat_table_has_every_route_once_in_order_with_the_same_openapi(tmp_path: Path) -> None:
    flat = create_app(Settings(data_dir=tmp_path))
    routes = [route for route in flat.routes if isinstance(route, APIRoute | APIWebSocketRoute)]
    expected = [
        (API_PREFIX if router is not health.router else "") + route.path
        for router in [health.router, *ROUTERS, agent_socket.router, agent_uploads.router]
        for route in router.routes
    ]
    assert [route.path for route in routes] == expected
    assert len({(route.path, tuple(sorted(getattr(route, "methods", None) or ()))) for route in routes}) == len(routes)
    assert flat.openapi() == _included(flat).openapi()


async def test_a_prefixed_route_matches_by_its_full_template_and_keeps_its_route_label(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/api/v1/executions/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 401  # the route matched (a 404 would mean no route)
    assert (await client.get("/executions")).status_code == 404  # only under the prefix
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/executions/{execution_id}",status="401"' in metrics


def test_a_router_with_a_mount_is_refused_by_name() -> None:
    router = APIRouter(prefix="/files")
    router.routes.append(Mount("/static", app=FastAPI()))
    with pytest.raises(TypeError, match=r"router /files holds a Mount at /static"):
        add_flat(FastAPI(), [router], prefix=API_PREFIX)


async def test_each_app_gets_its_own_routes_bound_to_itself(tmp_path: Path) -> None:
    """Later apps of a process reuse the first build of each route, as copies bound to themselves:
    a dependency override on one app reaches only that app."""
    first, second = (create_app(Settings(data_dir=tmp_path / name)) for name in ("first", "second"))
    path = API_PREFIX + "/executions"
    one, two = (
        next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path and "GET" in r.methods)
        for app in (first, second)
    )
    assert one is not two
    assert one.app is not two.app
    assert (one.dependency_overrides_provider, two.dependency_overrides_provider) == (first, second)

    def teapot() -> None:
        raise HTTPException(status_code=418)

    caller = two.dependant.dependencies[0].call  # who may list executions
    assert caller is not None
    second.dependency_overrides[caller] = teapot
    for app, expected in ((first, 401), (second, 418)):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                assert (await http.get(path)).status_code == expected
