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

Building an `APIRoute` is costly (a pydantic adapter for each parameter and response: about
0.3 s of CPU for the whole table), and a process that builds several apps (the test suite builds
one per test) paid it each time. A flat route depends only on its source route, its path and the
app router's defaults, so the first build is kept for the process and a later app with the same
defaults gets a copy of it bound to itself (its own dependency overrides, its own handler).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, request_response

_NOT_COPIED = {"self", "path", "endpoint", "dependency_overrides_provider"}
_ROUTE_OPTIONS = tuple(name for name in inspect.signature(APIRoute.__init__).parameters if name not in _NOT_COPIED)


@dataclass(frozen=True)
class _Built:
    source: APIRoute
    defaults: tuple[Any, ...]
    route: APIRoute


# (id of the source route, full path) -> the flat route first built from it in this process.
_BUILT: dict[tuple[int, str], _Built] = {}


def _router_defaults(app: FastAPI) -> tuple[Any, ...]:
    """What the app's router adds to each route it builds (`APIRouter.add_api_route`)."""
    router = app.router
    return (
        router.route_class,
        router.prefix,
        router.responses,
        router.tags,
        router.dependencies,
        router.callbacks,
        router.default_response_class,
        router.generate_unique_id_function,
    )


def _add_api_route(app: FastAPI, route: APIRoute, path: str) -> None:
    """Add `route` to `app` under `path`: a copy of an earlier build when there is one."""
    defaults = _router_defaults(app)
    built = _BUILT.get((id(route), path))
    if built is not None and built.source is route and built.defaults == defaults:
        flat = copy.copy(built.route)
        flat.dependency_overrides_provider = app.router.dependency_overrides_provider
        flat.app = request_response(flat.get_route_handler())
        app.router.routes.append(flat)
        return
    options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
    app.router.add_api_route(path, route.endpoint, route_class_override=type(route), **options)
    made = app.router.routes[-1]
    # A body limit wraps the handler in FastAPI's own middleware: such a route is always built.
    if isinstance(made, APIRoute) and made.max_body_size is None:
        _BUILT[(id(route), path)] = _Built(route, defaults, made)


def add_flat(app: FastAPI, routers: Iterable[APIRouter], *, prefix: str = "") -> None:
    """Add every route of `routers` to `app` under `prefix` + its path, keeping the order.

    Raises:
        TypeError: a router holds something other than HTTP and WebSocket routes (an included
            router, a mount), which this table cannot keep as FastAPI would.
    """
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                _add_api_route(app, route, prefix + route.path)
            elif isinstance(route, APIWebSocketRoute):
                app.router.add_api_websocket_route(
                    prefix + route.path, route.endpoint, name=route.name, dependencies=route.dependencies
                )
            else:
                raise TypeError(
                    f"router {router.prefix or '/'} holds a {type(route).__name__} at "
                    f"{getattr(route, 'path', '?')}; only HTTP and WebSocket routes can be added flat"
                )
