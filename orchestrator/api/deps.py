"""Annotated dependencies, so route signatures read as declarations.

- `SessionDep`: the request's database session; the request owns the transaction (committed
  when the route returns, rolled back when it raises). `release` (from `db.session`): how a hot
  route that only reads gives back a session it opened itself (`request.app.state.db.sessions()`,
  then `release` in a `finally`): FastAPI runs a generator dependency inside an exit stack with a
  shielded exit, which costs more per request than the reads of a start.
- `PrincipalDep`: who is calling (from the bearer token; the session must still be live, the
  membership active, the caller's IP must pass the organisation's allowlist, and the password
  must not have outlived the organisation's maximum age: 403 `password_expired`).
- `PrincipalAllowExpiredDep`: the same without the password-age check, for the routes an
  expired password may still use (change the password, log out).
- `require(Permission.X)`: a dependency that also checks one permission (403 otherwise).
- `HubDep`, `DispatcherDep`: the agent hub and the dispatcher the app's lifespan made; a request
  served by an app whose lifespan did not run fails loudly (`started`) instead of going on
  without them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.api.client_address import client_address
from orchestrator.db.base import utcnow
from orchestrator.db.read_cache import ReadCache
from orchestrator.db.session import release
from orchestrator.errors import Forbidden, Unauthorized
from orchestrator.models import AuthSession, Membership, Organisation, Role, User
from orchestrator.runtime.dispatch import Dispatcher
from orchestrator.runtime.hub import AgentHub
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal, ip_allowed
from orchestrator.security.tokens import TokenError, decode_access_token
from orchestrator.services.audit import Actor
from orchestrator.services.policy import PasswordPolicy
from orchestrator.settings import Settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    session: AsyncSession = request.app.state.db.sessions()
    try:
        yield session
        if session.in_transaction():  # a route that never touched its session has nothing to commit
            await session.commit()
    except BaseException:
        if session.in_transaction():
            await session.rollback()
        raise
    finally:
        await release(session)


# scope="function": the commit happens before the response is sent, so a failed commit is an
# error response, never a 200 for work that was not stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def started(app: Any, name: str) -> Any:
    """`app.state.<name>`, which the app's lifespan sets (`create_app`).

    Raises:
        RuntimeError: The lifespan did not run, so the app has no such part; going on without it
            would answer as if no agent were connected or nothing needed dispatching.
    """
    try:
        return getattr(app.state, name)
    except AttributeError:
        raise RuntimeError(
            f"app.state.{name} is missing: the orchestrator's lifespan (create_app) has not started it"
        ) from None


def get_hub(request: Request) -> AgentHub:
    hub: AgentHub = started(request.app, "agent_hub")
    return hub


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = started(request.app, "dispatcher")
    return dispatcher


HubDep = Annotated[AgentHub, Depends(get_hub)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def client_ip(request: Request) -> str:
    """The caller's address; X-Forwarded-For is believed only through trusted proxies
    (`api/client_address.py`)."""
    peer = request.client.host if request.client else "unknown"
    settings: Settings = request.app.state.settings
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    return client_address(peer, forwarded, tuple(settings.trusted_proxies))


# Table columns, not entities, and built once: this runs on every request. A statement of table
# columns runs as Core (no ORM compile state, no loading step), which costs less than the query.
_S, _U, _O, _M, _R = (model.__table__.c for model in (AuthSession, User, Organisation, Membership, Role))
_SESSION_OF = (
    select(
        _S.user_id,
        _S.org_id,
        _S.revoked_at,
        _S.expires_at,
        _U.email,
        _U.is_active,
        _U.deleted_at,
        _U.password_changed_at,
        _M.is_active,
        _O.deleted_at,
        _O.ip_allowlist,
        _O.password_policy,
        _R.name,
        _R.permissions,
    )
    .select_from(AuthSession.__table__)
    .join(User.__table__, _U.id == _S.user_id)
    .join(Organisation.__table__, _O.id == _S.org_id)
    .join(Membership.__table__, (_M.user_id == _U.id) & (_M.org_id == _S.org_id))
    .join(Role.__table__, _R.id == _M.role_id)
    .where(_S.id == bindparam("session_id"))
)


@dataclass(frozen=True)
class _Identity:
    """A session's stored facts, as `_SESSION_OF` reads them (kept in `app.state.auth_cache`)."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    revoked_at: datetime | None
    expires_at: datetime
    email: str
    enabled: bool
    password_changed_at: datetime
    allowlist: list[str]
    policy: PasswordPolicy
    role: str
    permissions: frozenset[str]


async def _identity(request: Request, session_id: uuid.UUID) -> _Identity | None:
    cache: ReadCache = started(request.app, "auth_cache")
    identity: _Identity | None = await cache.load(session_id, lambda: _read_identity(request, session_id))
    return identity


async def _read_identity(request: Request, session_id: uuid.UUID) -> _Identity | None:
    session = request.app.state.db.sessions()
    try:
        row = (await session.execute(_SESSION_OF, {"session_id": session_id})).first()
    finally:
        await release(session)
    if row is None:
        return None
    (
        user_id,
        org_id,
        revoked_at,
        expires_at,
        email,
        user_active,
        user_deleted,
        password_changed_at,
        member_active,
        org_deleted,
        allowlist,
        policy,
        role_name,
        permissions,
    ) = row
    return _Identity(
        user_id,
        org_id,
        revoked_at,
        expires_at,
        email,
        bool(user_active and member_active and user_deleted is None and org_deleted is None),
        password_changed_at,
        list(allowlist or []),
        PasswordPolicy.from_stored(policy),
        role_name,
        frozenset(permissions),
    )


async def authenticate(request: Request) -> Principal:
    """Who is calling, from the request's bearer token (401 or 403 otherwise)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not token or scheme.lower() != "bearer":
        raise Unauthorized(
            "an access token is required (Authorization: Bearer …)", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        claims = decode_access_token(request.app.state.signing_key, token)
    except TokenError as exc:
        raise Unauthorized(str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    identity = await _identity(request, claims.session_id)
    if identity is None:
        raise Unauthorized("the session no longer exists", headers={"WWW-Authenticate": "Bearer"})
    if identity.user_id != claims.user_id or identity.org_id != claims.org_id:
        raise Unauthorized("the token does not match its session", headers={"WWW-Authenticate": "Bearer"})
    if identity.revoked_at is not None:
        raise Unauthorized("the session was revoked", headers={"WWW-Authenticate": "Bearer"})
    if identity.expires_at <= utcnow():
        raise Unauthorized("the session has expired", headers={"WWW-Authenticate": "Bearer"})
    if not identity.enabled:
        raise Unauthorized("the account is disabled", headers={"WWW-Authenticate": "Bearer"})
    ip = client_ip(request)
    if not ip_allowed(ip, identity.allowlist):
        raise Forbidden(f"requests from {ip} are not allowed by the organisation's IP allowlist", code="ip_not_allowed")
    principal = Principal(
        identity.user_id,
        identity.org_id,
        claims.session_id,
        identity.email,
        identity.role,
        identity.permissions,
        password_expired=identity.policy.expired(identity.password_changed_at),
    )
    request.state.principal = principal
    return principal


class Caller(HTTPBearer):
    """The API's bearer-token security scheme as a single dependency that returns the principal.

    One instance per kind of check: `require(Permission.X)`, `PrincipalDep` (any permission, the
    password in date) and `PrincipalAllowExpiredDep`. OpenAPI sees each as the same `HTTPBearer`
    scheme. FastAPI solves every dependency level on every request (a cache key, the request's
    headers, query and cookies for each), so authentication, the password age and the permission
    are one level instead of three (the token, the principal, the check)."""

    def __init__(self, permission: Permission | None = None, *, allow_expired: bool = False) -> None:
        super().__init__(
            auto_error=False, scheme_name="HTTPBearer", description="An access token from POST /api/v1/auth/login."
        )
        self.permission = permission
        """Read by the route table's tests."""
        self.allow_expired = allow_expired

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await authenticate(request)
        if principal.password_expired and not self.allow_expired:
            raise Forbidden(
                "the password has expired; change it with POST /api/v1/auth/password", code="password_expired"
            )
        permission = self.permission
        if permission is not None and not principal.can(permission):
            raise Forbidden(f"this needs the '{permission.value}' permission", details={"permission": permission.value})
        return principal


PrincipalDep = Annotated[Principal, Depends(Caller())]
PrincipalAllowExpiredDep = Annotated[Principal, Depends(Caller(allow_expired=True))]


def actor_for(request: Request, principal: Principal) -> Actor:
    """The audit actor for a request made by `principal`."""
    return Actor(principal.user_id, principal.email, client_ip(request), getattr(request.state, "request_id", None))


def require(permission: Permission) -> Caller:
    """A dependency returning the principal once it holds `permission` (403 otherwise); the
    permission stays on it (`.permission`) so the route table can be inspected in tests."""
    return Caller(permission)


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


PageDep = Annotated[PageParams, Depends(page_params)]
