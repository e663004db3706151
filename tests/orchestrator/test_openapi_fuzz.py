"""The API against its own OpenAPI document: generated requests (schemathesis + Hypothesis).

For every operation of `app.openapi()`, valid and invalid requests are generated from the
schema and sent, authenticated as an organisation's owner (every permission). No answer may be
a 5xx, and every answer must be documented: its status code, its content type and its body
must match the operation's responses.

- Each operation gets a fresh organisation, and each request a fresh login session of its owner,
  so an operation that logs the caller out (`POST /auth/logout`), revokes sessions or changes the
  password cannot spoil the requests that follow: none has to be excluded.
- The organisation holds one object of the operation's resource (made by `_factories.FACTORIES`),
  so lists have an item to show, and operations whose path names an object are sent its ids half
  of the time, so they reach their logic instead of a 404.
- Boundaries first: schemathesis's coverage cases (each bound, one past it, each enum value, a
  wrong type...) are sent before the random ones. Random generation alone almost never draws an
  integer at 2^63; the coverage cases draw `maximum + 1` on every bounded integer, and
  `test_every_integer_a_request_carries_is_bounded` makes every integer have a `maximum` to
  step past (an unbounded integer once reached the database as 2^63 and answered 500).
- Bounded and reproducible: `MAX_EXAMPLES` per operation, derandomized, no shrinking (the
  failing request is printed as a curl command), no example database.

SQLite only: the app is built here, not from the `settings` fixture that also runs on PostgreSQL.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from orchestrator.app import API_PREFIX, create_app
from orchestrator.models import User
from orchestrator.services.identity import create_org_with_owner, start_session
from orchestrator.settings import Settings
from tests.orchestrator._factories import FACTORIES, PASSWORD, Api

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The document needs no database: the app is built without its lifespan.
SPEC: dict[str, Any] = create_app(
    Settings(environment="test", data_dir=Path(tempfile.gettempdir()) / "rpa-spec")
).openapi()
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}

EXCLUDED: dict[str, str] = {
    "GET /api/v1/executions/{execution_id}/stream": (
        "with follow=true a live stream lasts until its execution ends, and no agent ever runs the "
        "fuzzed one; "
        "tests/e2e/test_dispatch_e2e.py reads it (replay and live) and the isolation tests check its 404 and 403"
    ),
}
"""Operations not fuzzed, and why."""


def _label(label: str) -> str:
    method, path = label.split(" ", 1)
    return f"{method} {path.removeprefix(API_PREFIX)}"


@dataclass
class Owner:
    org_id: uuid.UUID
    user_id: uuid.UUID


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on SQLite with its lifespan running (in the test client's event-loop thread)."""
    settings_ = Settings(
        environment="test",
        data_dir=tmp_path_factory.mktemp("fuzz"),
        rate_limit_per_minute=1_000_000,
        login_rate_limit_per_minute=1_000_000,
    )
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        yield client


def _run(client: TestClient, coroutine: Any) -> Any:
    assert client.portal is not None
    return client.portal.call(lambda: coroutine)


async def _new_owner(app: Any) -> Owner:
    async with app.state.db.transaction() as session:
        org, user = await create_org_with_owner(
            session,
            org_name=f"Fuzz {uuid.uuid4().hex[:6]}",
            email=f"fuzz-{uuid.uuid4().hex[:10]}@example.com",
            password=PASSWORD,
            instance_admin=True,
        )  # the user factory creates accounts
    return Owner(org.id, user.id)


async def _headers(app: Any, owner: Owner) -> dict[str, str]:
    """A fresh login session of the owner (no password hashing: cheap enough per request)."""
    async with app.state.db.transaction() as session:
        user = await session.get(User, owner.user_id)
        assert user is not None
        settings_: Settings = app.state.settings
        tokens = await start_session(
            session,
            user=user,
            org_id=owner.org_id,
            signing_key=app.state.signing_key,
            access_ttl_s=settings_.access_token_ttl_s,
            refresh_ttl_s=settings_.refresh_token_ttl_s,
        )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def _objects(app: Any, owner: Owner, prefix: str) -> dict[str, str]:
    """Path-parameter values of a real object of the organisation, when a factory makes one."""
    if prefix not in FACTORIES:
        return {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await Api(client, await _headers(app, owner)).objects(prefix)


def _send(client: TestClient, kwargs: dict[str, Any]) -> httpx.Response:
    """Send the requests-style keyword arguments schemathesis serialises a case to."""
    data = kwargs.get("data")
    response = client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies") or None,
        json=kwargs.get("json"),
        content=data if isinstance(data, (bytes, str)) else None,
        data=data if isinstance(data, dict) else None,
        files=kwargs.get("files"),
    )
    if kwargs.get("files"):  # a multipart body is streamed; the checks read what was sent
        try:
            response.request.read()
        except (AttributeError, TypeError):  # a generated part that renders only once
            response.request = client.build_request(kwargs["method"], kwargs["url"], content=b"")
    return response


@pytest.mark.parametrize("label", [k for k in OPERATIONS if k not in EXCLUDED], ids=_label)
def test_operation_conforms_to_its_schema(server: TestClient, label: str) -> None:
    operation = OPERATIONS[label]
    app = server.app
    owner = _run(server, _new_owner(app))
    path = operation.path.removeprefix(API_PREFIX)
    prefix = "/" + path.strip("/").split("/")[0] if operation.path.startswith(API_PREFIX) else ""
    names = [p.name for p in operation.path_parameters]
    # Made for lists too, so that they have an item to serialise.
    real = _run(server, _objects(app, owner, prefix))
    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
    fixed: dict[str, str] = {}
    if names and all(name in real for name in names):
        fixed = {name: real[name] for name in names}
        strategies += [operation.as_strategy(generation_mode=mode, path_parameters=fixed) for mode in GenerationMode]
    boundaries = _coverage_cases(operation, fixed)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=st.one_of(strategies))
    def fuzz(case: schemathesis.Case) -> None:
        headers = _run(server, _headers(app, owner))
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = _send(server, kwargs)
        case.validate_response(response, checks=CHECKS, headers=kwargs["headers"])

    for case in boundaries:
        fuzz.hypothesis.inner_test(case=case)  # type: ignore[attr-defined]
    fuzz()


def _coverage_cases(operation: Any, fixed: dict[str, str]) -> list[schemathesis.Case]:
    """Schemathesis's coverage cases of `operation` (bounds and one past them, enum values, wrong
    types), with the path naming a real object when there is one."""
    config = SCHEMA.config.generation_for(operation=operation, phase="coverage")
    cases = list(SCHEMA.iter_coverage_cases(operation, generation_modes=list(GenerationMode), generation_config=config))
    for case in cases:
        if (
            fixed
            and case.path_parameters
            and all(str(case.path_parameters.get(name, "")) and _is_uuid(case.path_parameters[name]) for name in fixed)
        ):
            case.path_parameters = {**case.path_parameters, **fixed}
    return cases


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _integers(node: Any, where: str, seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema under `node` (following references), with where it is."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                yield from _integers(SPEC["components"]["schemas"][name], name, seen)
        if node.get("type") == "integer":
            yield where, node
        for key, value in node.items():
            yield from _integers(value, f"{where}.{key}", seen)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _integers(value, f"{where}[{index}]", seen)


def test_every_integer_a_request_carries_is_bounded() -> None:
    """A parameter or body integer without bounds reaches the database as any size (2^63 and up
    answered 500): each must have both, within a 64-bit column."""
    unbounded = []
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                unbounded += [
                    w
                    for w, schema in _integers(parameter.get("schema", {}), where, set())
                    if not -(2**63) <= schema.get("minimum", -(2**64)) <= schema.get("maximum", 2**64) <= 2**63 - 1
                ]
            body = operation.get("requestBody", {})
            unbounded += [
                w
                for w, schema in _integers(body, f"{method.upper()} {path} body", set())
                if not -(2**63) <= schema.get("minimum", -(2**64)) <= schema.get("maximum", 2**64) <= 2**63 - 1
            ]
    assert not unbounded, unbounded


def test_exclusions_name_existing_operations() -> None:
    assert set(EXCLUDED) <= set(OPERATIONS), sorted(set(EXCLUDED) - set(OPERATIONS))
