"""Rate limiting: a sliding-window limiter and the ASGI middleware that applies it to the API.

Every request under `/api/` counts against its client IP and, when it carries a validly signed
access token, against that user (`settings.rate_limit_per_minute` each). The login endpoints
(login, refresh, MFA, password change, agent enrolment) also count against a stricter per-IP budget
(`settings.login_rate_limit_per_minute`). Over a limit the answer is 429 with `Retry-After`
(seconds) and the standard error body.

Limits are kept in memory and are therefore per process: N replicas behind a load balancer
allow up to N times the configured rate. The account lockout (stored in the database) is what
bounds password guessing across replicas.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable

import jwt
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.api.deps import client_ip, started
from orchestrator.api.errors import send_error
from orchestrator.errors import TooManyRequests
from orchestrator.security.tokens import TokenError, decode_access_token

WINDOW_S = 60.0
LOGIN_PATHS = (
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/mfa",
    "/api/v1/auth/password",
    "/api/v1/agents/enroll",
)
"""Path prefixes under the stricter per-IP budget: where credentials, codes or enrolment tokens are guessed."""


class SlidingWindowLimiter:
    """At most `limit` hits per key in any window of `window_s` seconds (an exact sliding log).

    Memory is bounded by `limit` timestamps per key; keys whose hits have all aged out are
    dropped every `sweep_every` calls, so a stream of distinct addresses cannot grow it forever.
    """

    def __init__(
        self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic, sweep_every: int = 1000
    ) -> None:
        self.window_s = window_s
        self.clock = clock
        self.sweep_every = sweep_every
        self._hits: dict[str, deque[float]] = {}
        self._calls = 0

    def retry_after(self, key: str, limit: int, now: float) -> float:
        """Seconds until `key` may be hit again (0 when it may be hit now)."""
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) < limit:
            return 0.0
        return hits[len(hits) - limit] + self.window_s - now

    def hit(self, keys: Iterable[tuple[str, int]]) -> float:
        """Count one hit on every (key, limit) if all have room; else count nothing.

        Returns 0 when allowed, else the seconds to wait (the longest of the exceeded keys).
        """
        now = self.clock()
        self._sweep(now)
        pairs = list(keys)
        wait = max((self.retry_after(key, limit, now) for key, limit in pairs), default=0.0)
        if wait > 0:
            return wait
        for key, _limit in pairs:
            self._hits.setdefault(key, deque()).append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        self._calls += 1
        if self._calls % self.sweep_every:
            return
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s]
        for key in stale:
            del self._hits[key]

    def __len__(self) -> int:
        return len(self._hits)


class RateLimitMiddleware:
    """Pure ASGI middleware: answers 429 before the request reaches the routes."""

    def __init__(self, app: ASGIApp, limiter: SlidingWindowLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter or SlidingWindowLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        wait = self.limiter.hit(self._keys(request))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        await send_error(
            scope,
            send,
            TooManyRequests(
                f"too many requests; retry in {retry_after} s",
                details={"retry_after_s": retry_after},
                headers={"Retry-After": str(retry_after)},
            ),
        )

    def _keys(self, request: Request) -> list[tuple[str, int]]:
        settings = request.app.state.settings
        ip = client_ip(request)
        keys = [(f"ip:{ip}", settings.rate_limit_per_minute)]
        if str(request.scope.get("path", "")).startswith(LOGIN_PATHS):  # as `__call__` reads it; no URL to build
            keys.append((f"login-ip:{ip}", settings.login_rate_limit_per_minute))
        user = self._user(request)
        if user:
            keys.append((f"user:{user}", settings.rate_limit_per_minute))
        return keys

    @staticmethod
    def _user(request: Request) -> str | None:
        """The user of a validly signed token: an unsigned claim could charge someone else's budget."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return str(decode_access_token(started(request.app, "signing_key"), token.strip()).user_id)
        except (TokenError, jwt.PyJWTError):
            return None
