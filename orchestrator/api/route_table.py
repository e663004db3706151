"""One flat route table for the whole API.

FastAPI 0.120+ keeps an included router as a branch that is matched lazily: every request walks the
branches (`/api/v1`, then `/executions`, …), each branch recomputes its routes' version over the
whole subtree and matches its candidates twice (once to choose the branch, again to handle it).
With about 80 routes that walk cost as much CPU per request as the authentication query
(bench/README.md has the figures). The routers here
carry no include-level options (only a prefix), so their routes are added to the app itself under
their full path, as FastAPI did before: one list, matched once, in the same order, with the same
OpenAPI document (route properties are copied as they are; the operation ids are computed from the
full path either way).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

_NOT_COPIED = {"self", "path", "endpoint", "dependency_overrides_provider"}
_ROUTE_OPTIONS = tuple(name for name in inspect.signature(APIRoute.__init__).parameters if name not in _NOT_COPIED)


def add_flat(app: FastAPI, routers: Iterable[APIRouter], *, prefix: str = "") -> None:
    """Add every route of `routers` to `app` under `prefix` + its path, keeping the order.

    Raises:
        TypeError: a router holds something other than HTTP and WebSocket routes (an included
            router, a mount), which this table cannot keep as FastAPI would.
    """
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                app.router.add_api_route(
                    prefix + route.path,
                    route.endpoint,
                    route_class_override=type(route),
                    **{name: getattr(route, name) for name in _ROUTE_OPTIONS},
                )
            elif isinstance(route, APIWebSocketRoute):
                app.router.add_api_websocket_route(
                    prefix + route.path, route.endpoint, name=route.name, dependencies=route.dependencies
                )
            else:
                raise TypeError(
                    f"router {router.prefix or '/'} holds a {type(route).__name__} at "
                    f"{getattr(route, 'path', '?')}; only HTTP and WebSocket routes can be added flat"
                )
