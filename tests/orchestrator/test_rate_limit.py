"""Rate limiting: the sliding window itself (with a fake clock), and 429 + Retry-After from an app
with small limits, per IP, per user and stricter on login."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.api.ratelimit import SlidingWindowLimiter
from orchestrator.app import create_app
from orchestrator.settings import Settings
from tests.orchestrator._identity_helpers import API, error_code, fast_hashing  # noqa: F401 - fixture

API_LIMIT = 8
LOGIN_LIMIT = 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.hit([("k", 3)]) == 0
        clock.now += 10
    assert limiter.hit([("k", 3)]) == pytest.approx(30)  # the first hit (at 1000) leaves the window at 1060
    clock.now = 1060.0
    assert limiter.hit([("k", 3)]) == 0
    assert limiter.hit([("k", 3)]) == pytest.approx(10)


def test_a_refused_hit_counts_on_no_key() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(clock=clock)
    assert limiter.hit([("ip", 1), ("user", 5)]) == 0
    assert limiter.hit([("ip", 1), ("user", 5)]) > 0
    for _ in range(4):  # the refused request above did not use up the user's budget
        assert limiter.hit([("other-ip", 10), ("user", 5)]) == 0
    assert limiter.hit([("other-ip", 10), ("user", 5)]) > 0


def test_idle_keys_are_swept() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(clock=clock, sweep_every=10)
    for i in range(9):
        limiter.hit([(f"ip:{i}", 5)])
    assert len(limiter) == 9
    clock.now += 61
    limiter.hit([("fresh", 5)])  # the tenth call sweeps
    assert len(limiter) == 1


@pytest.fixture
async def small_app(settings: Settings) -> AsyncIterator[FastAPI]:
    limited = settings.model_copy(
        update={"rate_limit_per_minute": API_LIMIT, "login_rate_limit_per_minute": LOGIN_LIMIT}
    )
    application = create_app(limited)
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url="http://testserver")


async def test_api_requests_over_the_limit_get_429_with_retry_after(small_app: FastAPI) -> None:
    async with _client(small_app, "127.0.0.1") as client:
        for _ in range(API_LIMIT):
            assert (await client.get(f"{API}/auth/me")).status_code == 401  # counted, though unauthenticated
        limited = await client.get(f"{API}/auth/me", headers={"X-Request-ID": "rl-1"})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"]["code"] == "rate_limited"
        assert limited.json()["error"]["request_id"] == "rl-1"
        assert limited.headers["x-request-id"] == "rl-1"
        assert (await client.get("/healthz")).status_code == 200  # health and metrics are not limited
    async with _client(small_app, "127.0.0.2") as other:
        assert (await other.get(f"{API}/auth/me")).status_code == 401  # another address has its own budget


@pytest.mark.usefixtures("fast_hashing")
async def test_login_has_a_stricter_limit_per_ip(small_app: FastAPI) -> None:
    body = {"email": "nobody@example.com", "password": "Whatever-123-password"}
    async with _client(small_app, "127.0.0.1") as client:
        for _ in range(LOGIN_LIMIT):
            assert error_code(await client.post(f"{API}/auth/login", json=body)) == "invalid_credentials"
        limited = await client.post(f"{API}/auth/refresh", json={"refresh_token": "rt_x"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert (await client.get(f"{API}/auth/me")).status_code == 401  # the rest of the API is still open


async def test_a_user_is_limited_across_addresses(small_app: FastAPI, tenant) -> None:
    member = await tenant()  # made through the default app: same database and data dir, so the same signing key
    for i in range(API_LIMIT):
        async with _client(small_app, f"127.0.1.{i}") as client:
            assert (await client.get(f"{API}/auth/me", headers=member.headers)).status_code == 200
    async with _client(small_app, "127.0.2.1") as fresh_ip:
        limited = await fresh_ip.get(f"{API}/auth/me", headers=member.headers)
        assert limited.status_code == 429
        assert (await fresh_ip.get(f"{API}/auth/me")).status_code == 401  # the address itself is not spent
