"""Start-up with no configuration, health, metrics, request ids, the error body, /auth/me."""

from __future__ import annotations

import stat

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.settings import Settings


async def test_first_start_creates_its_secrets_with_mode_0600(app: FastAPI, settings: Settings) -> None:
    for name in ("secret.key", "master.key"):
        path = settings.data_dir / name
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'rpa_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in metrics.text


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


async def test_errors_share_one_body(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "r1"})
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None, "request_id": "r1"}
    }
    unauthenticated = await client.get("/api/v1/auth/me")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "unauthorized"
    assert unauthenticated.headers["www-authenticate"] == "Bearer"


async def test_me_names_the_caller_and_their_permissions(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    me = (await client.get("/api/v1/auth/me", headers=viewer.headers)).json()
    assert me["email"] == viewer.email
    assert me["role"] == "viewer"
    assert "workflows:read" in me["permissions"]
    assert "workflows:write" not in me["permissions"]


@pytest.mark.parametrize("secret", ["changeme", "short"])
def test_weak_secrets_are_refused_outside_development(secret: str, tmp_path) -> None:
    with pytest.raises(ValueError, match="RPA_SECRET_KEY"):
        Settings(environment="production", data_dir=tmp_path, secret_key=secret)
    Settings(environment="development", data_dir=tmp_path, secret_key=secret)
