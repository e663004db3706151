"""The API's route table as data, and one object of each resource made through the public API.

The cross-cutting suites (tenant isolation, OpenAPI fuzzing) are generated from `app.routes`, so
they cover every route that exists. This module gives them:

- `api_routes(app)`: every (method, path) under /api/v1 with the permission its dependencies
  declare (`require(Permission.X)` leaves `.permission` on the dependency function);
- `example(schema, root)` and `request_for(route, values, spec)`: a small request that passes
  validation, so a test reaches the route's own logic instead of a 422;
- `FACTORIES`: per path prefix (`/workflows`), a coroutine that creates one object of that
  resource in the caller's organisation and returns the values of the path parameters that name
  it (`{"id": …, "workflow_id": …, "number": "1"}`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from orchestrator.app import API_PREFIX

PASSWORD = "Correct-Horse-42-battery"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f0005000201"
    "a5f6d5a80000000049454e44ae426082"
)
"""A 1x1 PNG: an asset the factories upload and the generated multipart requests send."""
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_CONVERTOR = re.compile(r"{([^}:]+):[^}]*}")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


# -- the route table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRoute:
    """One method of one route under /api/v1."""

    method: str
    path: str
    """The full path template (`/api/v1/workflows/{id}`)."""
    permission: str | None
    params: tuple[str, ...]

    @property
    def short(self) -> str:
        """The path below /api/v1 (`/workflows/{id}`)."""
        return self.path.removeprefix(API_PREFIX)

    @property
    def label(self) -> str:
        """`GET /workflows/{id}`: the test id and the key of the explicit lists."""
        return f"{self.method} {self.short}"

    @property
    def prefix(self) -> str:
        """The resource the route belongs to (`/workflows`), which keys the factories."""
        return "/" + self.short.strip("/").split("/")[0]

    def url(self, values: dict[str, str]) -> str:
        missing = [name for name in self.params if name not in values]
        if missing:
            raise KeyError(f"{self.label}: no value for path parameter(s) {missing}")
        return _PARAM.sub(lambda m: str(values[m.group(1)]), self.path)


def permission_of(dependant: Any) -> str | None:
    """The permission a dependency tree declares (depth-first), or None."""
    call = getattr(dependant, "call", None)
    permission = getattr(call, "permission", None)
    if permission is not None:
        return str(getattr(permission, "value", permission))
    for child in getattr(dependant, "dependencies", ()):
        found = permission_of(child)
        if found is not None:
            return found
    return None


def api_routes(app: FastAPI) -> list[ApiRoute]:
    """Every method of every route under /api/v1, in path order."""
    found: list[ApiRoute] = []
    # Included routers are resolved lazily; the contexts carry each route's full path and the
    # dependencies it got from the routers it was included through.
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not isinstance(route.original_route, APIRoute) or not path.startswith(API_PREFIX + "/"):
            continue
        params = tuple(_PARAM.findall(path))
        permission = permission_of(route.dependant)
        for method in sorted((route.methods or set()) - _IGNORED_METHODS):
            found.append(ApiRoute(method, path, permission, params))
    return sorted(found, key=lambda r: (r.path, r.method))


# -- requests that pass validation --------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def example(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> Any:  # noqa: C901
    """The smallest value that the JSON schema accepts (required fields only, minimal sizes)."""
    schema = _resolve(schema, root)
    if depth > 12:
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(o, root) for o in schema[key]]
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            return example(chosen, root, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part, root))
        return example(merged, root, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: example(properties.get(name, {}), root, depth + 1) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {}), root, depth + 1) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1)
        return max(1, int(low)) if kind == "integer" else float(max(1, low))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema)


def _string(schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return datetime.now(UTC).isoformat()
    if fmt == "email":
        return f"x{uuid.uuid4().hex[:6]}@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com/"
    return "a" * max(1, int(schema.get("minLength", 1)))


def _operation(spec: dict[str, Any], route: ApiRoute) -> dict[str, Any]:
    # The OpenAPI document names a `{path:path}` parameter `{path}`.
    operation: dict[str, Any] = spec["paths"][_CONVERTOR.sub(r"{\1}", route.path)][route.method.lower()]
    return operation


def request_for(route: ApiRoute, values: dict[str, str], spec: dict[str, Any], body: Any = None) -> dict[str, Any]:
    """httpx `request` keyword arguments for `route` on the objects in `values`: the required query
    parameters and a JSON body that pass validation (`body` overrides the generated one)."""
    operation = _operation(spec, route)
    query = {
        p["name"]: values.get(p["name"], example(p.get("schema", {}), spec))
        for p in operation.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }
    kwargs: dict[str, Any] = {"method": route.method, "url": route.url(values), "params": query}
    content = operation.get("requestBody", {}).get("content", {})
    if body is not None:
        kwargs["json"] = body
    elif "application/json" in content:
        kwargs["json"] = example(content["application/json"].get("schema", {}), spec)
    elif "multipart/form-data" in content:
        # A file for each required part (a workflow's assets): a PNG, the kind every asset route accepts.
        form = _resolve(content["multipart/form-data"].get("schema", {}), spec)
        kwargs["files"] = [(name, ("probe.png", PNG, "image/png")) for name in form.get("required", [])]
    return kwargs


def path_param_examples(route: ApiRoute, spec: dict[str, Any]) -> dict[str, str]:
    """A value of the right type for each path parameter (a random UUID, 1, "a")."""
    operation = _operation(spec, route)
    schemas = {p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p.get("in") == "path"}
    return {name: str(example(schemas.get(name, {}), spec)) for name in route.params}


# -- one object of each resource ----------------------------------------------------------------


class ApiFailure(AssertionError):
    """A factory's request did not succeed (the message has the request and the response)."""


@dataclass
class Api:
    """An org member's view of the API: requests with their token, asserting success."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    made: dict[str, dict[str, str]] = field(default_factory=dict)
    """Objects made so far, by factory prefix (a factory that needs another reuses its object)."""

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        response = await self.client.request(method, API_PREFIX + path, json=json, params=params, headers=self.headers)
        if response.status_code not in ok:
            raise ApiFailure(f"{method} {path} {json!r} -> {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    async def objects(self, prefix: str) -> dict[str, str]:
        """The path-parameter values of one object of `prefix`, made on first use."""
        if prefix not in self.made:
            factory = FACTORIES.get(prefix)
            if factory is None:
                raise KeyError(
                    f"no factory makes objects for {prefix} routes; add one to FACTORIES "
                    "or list the routes in UNCOVERED with the reason"
                )
            self.made[prefix] = await factory(self)
        return self.made[prefix]


Factory = Callable[[Api], Awaitable[dict[str, str]]]

MINIMAL_FLOW: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Minimal",
    "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
}
"""A flow that validates and publishes: one step that waits zero seconds."""


def _unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


async def make_workflow(api: Api) -> dict[str, str]:
    """A workflow with a valid draft and one asset (`factory.png`), published once (version 1)."""
    created = await api.call(
        "POST", "/workflows", json={"name": _unique("wf"), "document": MINIMAL_FLOW, "tags": ["factory"]}
    )
    workflow_id = str(created["id"])
    uploaded = await api.client.post(
        f"{API_PREFIX}/workflows/{workflow_id}/assets",
        files=[("files", ("factory.png", PNG, "image/png"))],
        headers=api.headers,
    )
    if uploaded.status_code != 201:
        raise ApiFailure(f"asset upload -> {uploaded.status_code} {uploaded.text[:500]}")
    version = await api.call("POST", f"/workflows/{workflow_id}/publish", json={"note": "factory"})
    return {"workflow_id": workflow_id, "number": str(version["number"]), "path": "factory.png"}


async def make_execution(api: Api) -> dict[str, str]:
    """A queued execution of the workflow factory's version 1."""
    workflow = await api.objects("/workflows")
    created = await api.call("POST", "/executions", json={"workflow_id": workflow["workflow_id"]})
    return {"execution_id": str(created["id"])}


async def make_role(api: Api) -> dict[str, str]:
    created = await api.call("POST", "/roles", json={"name": _unique("role"), "permissions": ["workflows:read"]})
    return {"role_id": str(created["id"])}


async def make_user(api: Api) -> dict[str, str]:
    """A new member with the viewer role."""
    created = await api.call(
        "POST", "/users", json={"email": f"{_unique('user')}@example.com", "password": PASSWORD, "role": "viewer"}
    )
    return {"user_id": str(created["id"])}


async def make_invitation(api: Api) -> dict[str, str]:
    """A pending invitation of a new address with the viewer role."""
    created = await api.call(
        "POST", "/invitations", json={"email": f"{_unique('invitee')}@example.com", "role": "viewer"}
    )
    return {"invitation_id": str(created["id"])}


async def make_credential(api: Api) -> dict[str, str]:
    created = await api.call(
        "POST",
        "/credentials",
        json={
            "name": _unique("cred").replace("-", "_"),
            "kind": "token",
            "value": {"token": "s3cret-token"},
            "description": "factory",
        },
    )
    return {"credential_id": str(created["id"])}


async def make_audit_entry(api: Api) -> dict[str, str]:
    """An audit entry: the one that creating a credential records."""
    credential = await api.objects("/credentials")
    page = await api.call("GET", "/audit", params={"target_id": credential["credential_id"]})
    assert page["items"], f"creating credential {credential['credential_id']} left no audit entry"
    return {"entry_id": str(page["items"][0]["id"])}


async def make_agent(api: Api) -> dict[str, str]:
    """An agent enrolled with one token, and a second token left unused (so it can still be revoked)."""
    used = await api.call("POST", "/agents/enrolment-tokens", json={"labels": ["factory"], "description": "factory"})
    enrolled = await api.call(
        "POST", "/agents/enroll", json={"token": used["token"], "name": _unique("agent"), "hostname": "factory-host"}
    )
    spare = await api.call("POST", "/agents/enrolment-tokens", json={"description": "factory, unused"})
    return {"agent_id": str(enrolled["agent_id"]), "token_id": str(spare["id"])}


async def make_own_session(api: Api) -> dict[str, str]:
    """The caller's own login session (sessions are made by logging in, and belong to one user)."""
    me = await api.call("GET", "/auth/me")
    return {"session_id": str(me["session_id"])}


async def make_trigger(api: Api) -> dict[str, str]:
    """A webhook trigger of the workflow factory's workflow."""
    workflow = await api.objects("/workflows")
    created = await api.call(
        "POST", f"/workflows/{workflow['workflow_id']}/triggers", json={"name": _unique("hook"), "kind": "webhook"}
    )
    return {"trigger_id": str(created["id"])}


FACTORIES: dict[str, Factory] = {
    "/workflows": make_workflow,
    "/executions": make_execution,
    "/roles": make_role,
    "/users": make_user,
    "/invitations": make_invitation,
    "/credentials": make_credential,
    "/agents": make_agent,
    "/audit": make_audit_entry,
    "/auth": make_own_session,
    "/triggers": make_trigger,
}
"""Factories by route prefix; each returns the path-parameter values naming its object."""
