"""Authentication: login, refresh, logout, organisation switch, own sessions, password change
and the TOTP second factor.

Login and refresh need no token. The other routes act on the caller's own account and need only
a live session (no permission): every role, custom ones included, may manage its own login.
Logout and password change work with an expired password; everything else answers 403
`password_expired` until the password is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.api.deps import (
    PageDep,
    PrincipalAllowExpiredDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    actor_for,
    client_ip,
)
from orchestrator.schemas.identity import (
    LoginRequest,
    MePublic,
    MeUpdate,
    MyInvitationPublic,
    OrgMembershipPublic,
    PasswordChange,
    RecoveryCodesPublic,
    RefreshRequest,
    SessionPublic,
    SwitchRequest,
    TokenPairPublic,
    TotpConfirm,
    TotpDisable,
    TotpEnrolmentPublic,
)
from orchestrator.schemas.pagination import Page
from orchestrator.services import auth, identity, invitations, mfa
from orchestrator.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"])

SELF_SERVICE = frozenset(
    {
        "/auth/me",
        "/auth/logout",
        "/auth/switch",
        "/auth/sessions",
        "/auth/sessions/{session_id}",
        "/auth/password",
        "/auth/mfa/totp",
        "/auth/mfa/totp/confirm",
        "/auth/invitations",
        "/auth/invitations/{invitation_id}/accept",
        "/auth/invitations/{invitation_id}/decline",
    }
)
"""Routes that act on the caller's own account: a live session is all they need."""
PUBLIC = frozenset({"/auth/login", "/auth/refresh"})


async def _durable_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Like `SessionDep`, but an `AuthRefusal` commits before it is answered: a failed login
    must still count, lock and be audited; a reused refresh token must stay revoked."""
    refusal: auth.AuthRefusal | None = None
    async with request.app.state.db.sessions() as session, session.begin():
        try:
            yield session
        except auth.AuthRefusal as exc:
            refusal = exc
    if refusal is not None:
        raise refusal


DurableSessionDep = Annotated[AsyncSession, Depends(_durable_session, scope="function")]


def _config(request: Request, settings: Settings) -> auth.TokenConfig:
    return auth.TokenConfig(
        request.app.state.signing_key,
        request.app.state.master_key,
        settings.access_token_ttl_s,
        settings.refresh_token_ttl_s,
    )


def _client(request: Request) -> auth.Client:
    return auth.Client(
        client_ip(request), request.headers.get("user-agent"), getattr(request.state, "request_id", None)
    )


def _tokens(result: auth.LoginResult, response: Response) -> TokenPairPublic:
    response.headers["Cache-Control"] = "no-store"
    t = result.tokens
    return TokenPairPublic(
        access_token=t.access_token,
        refresh_token=t.refresh_token,
        expires_at=t.expires_at,
        session_id=t.session_id,
        org_id=t.org_id,
        password_expired=result.password_expired,
    )


@router.post(
    "/login",
    response_model=TokenPairPublic,
    summary="Log in: an access token and a refresh token",
    description="401 `invalid_credentials` for a wrong e-mail or password, or an organisation (`org`) "
    "the account does not belong to; 401 `mfa_required` when "
    "the account has TOTP and no code was sent; 403 `locked` after repeated failures for "
    "that e-mail address, in the organisation named (its policy) or from this client "
    "address (the instance's limit), whether or not the address has an account.",
)
async def login(
    body: LoginRequest, request: Request, response: Response, session: DurableSessionDep, settings: SettingsDep
) -> TokenPairPublic:
    result = await auth.login(
        session,
        email=body.email,
        password=body.password,
        org_slug=body.org,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
        config=_config(request, settings),
        client=_client(request),
        lockout=auth.LockoutConfig(settings.login_lockout_threshold, settings.login_lockout_minutes),
    )
    return _tokens(result, response)


@router.post(
    "/refresh",
    response_model=TokenPairPublic,
    summary="Rotate the refresh token for a new pair",
    description="A refresh token works once; presenting a spent one revokes its whole session.",
)
async def refresh(
    body: RefreshRequest, request: Request, response: Response, session: DurableSessionDep, settings: SettingsDep
) -> TokenPairPublic:
    result = await auth.refresh(
        session, refresh_token=body.refresh_token, config=_config(request, settings), client=_client(request)
    )
    return _tokens(result, response)


@router.post("/logout", status_code=204, summary="Revoke the current session")
async def logout(request: Request, principal: PrincipalAllowExpiredDep, session: SessionDep) -> None:
    await auth.logout(session, principal=principal, actor=actor_for(request, principal))


@router.post("/switch", response_model=TokenPairPublic, summary="Open a session in another of your organisations")
async def switch(
    body: SwitchRequest,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> TokenPairPublic:
    result = await auth.switch(
        session, principal=principal, org_slug=body.org, config=_config(request, settings), client=_client(request)
    )
    return _tokens(result, response)


@router.get("/me", response_model=MePublic, summary="The caller, their organisation and permissions")
async def me(principal: PrincipalDep) -> MePublic:
    return MePublic(
        user_id=principal.user_id,
        org_id=principal.org_id,
        session_id=principal.session_id,
        email=principal.email,
        role=principal.role,
        permissions=sorted(principal.permissions),
    )


@router.patch("/me", status_code=204, summary="Change your own name (in every organisation you belong to)")
async def rename_me(body: MeUpdate, request: Request, principal: PrincipalDep, session: SessionDep) -> None:
    await identity.rename_self(session, principal=principal, name=body.name, actor=actor_for(request, principal))


@router.get("/sessions", response_model=Page[SessionPublic], summary="Your sessions in this organisation")
async def my_sessions(
    principal: PrincipalDep,
    session: SessionDep,
    page: PageDep,
    include_revoked: Annotated[bool, Query(description="Also revoked and expired ones.")] = False,
) -> Page[SessionPublic]:
    items, total = await auth.list_sessions(
        session,
        org_id=principal.org_id,
        user_id=principal.user_id,
        limit=page.limit,
        offset=page.offset,
        include_revoked=include_revoked,
        current=principal.session_id,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.delete("/sessions/{session_id}", status_code=204, summary="Revoke one of your sessions")
async def revoke_my_session(
    session_id: uuid.UUID, request: Request, principal: PrincipalDep, session: SessionDep
) -> None:
    await auth.revoke_own_session(
        session, principal=principal, session_id=session_id, actor=actor_for(request, principal)
    )


@router.post("/password", status_code=204, summary="Change your password (signs out your other sessions)")
async def change_password(
    body: PasswordChange, request: Request, principal: PrincipalAllowExpiredDep, session: SessionDep
) -> None:
    await auth.change_password(
        session,
        principal=principal,
        current_password=body.current_password,
        new_password=body.new_password,
        actor=actor_for(request, principal),
    )


@router.post(
    "/mfa/totp",
    status_code=201,
    response_model=TotpEnrolmentPublic,
    summary="Start TOTP enrolment: the secret and provisioning URI, shown once",
)
async def totp_enrol(
    request: Request, response: Response, principal: PrincipalDep, session: SessionDep
) -> TotpEnrolmentPublic:
    secret, uri = await mfa.start_enrolment(
        session,
        user_id=principal.user_id,
        master_key=request.app.state.master_key,
        actor=actor_for(request, principal),
        org_id=principal.org_id,
    )
    response.headers["Cache-Control"] = "no-store"
    return TotpEnrolmentPublic(secret=secret, provisioning_uri=uri)


@router.post(
    "/mfa/totp/confirm",
    response_model=RecoveryCodesPublic,
    summary="Confirm TOTP with a code: enables it and returns the recovery codes, shown once",
)
async def totp_confirm(
    body: TotpConfirm, request: Request, response: Response, principal: PrincipalDep, session: SessionDep
) -> RecoveryCodesPublic:
    codes = await mfa.confirm_enrolment(
        session,
        user_id=principal.user_id,
        code=body.code,
        master_key=request.app.state.master_key,
        actor=actor_for(request, principal),
        org_id=principal.org_id,
    )
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesPublic(recovery_codes=codes)


@router.delete("/mfa/totp", status_code=204, summary="Turn TOTP off (the password or a current code is required)")
async def totp_disable(body: TotpDisable, request: Request, principal: PrincipalDep, session: SessionDep) -> None:
    await mfa.disable(
        session,
        user_id=principal.user_id,
        password=body.password,
        code=body.code,
        master_key=request.app.state.master_key,
        actor=actor_for(request, principal),
        org_id=principal.org_id,
    )


@router.get(
    "/invitations",
    response_model=Page[MyInvitationPublic],
    summary="Invitations to other organisations addressed to you, pending and unexpired",
)
async def my_invitations(principal: PrincipalDep, session: SessionDep, page: PageDep) -> Page[MyInvitationPublic]:
    items, total = await invitations.list_mine(session, email=principal.email, limit=page.limit, offset=page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/invitations/{invitation_id}/accept",
    response_model=OrgMembershipPublic,
    summary="Accept an invitation: you join that organisation (log in to it with `org` or /auth/switch)",
    description="404 for an invitation not addressed to you; 409 `invitation_expired` or "
    "`invitation_closed` (already answered or revoked).",
)
async def accept_invitation(
    invitation_id: uuid.UUID, request: Request, principal: PrincipalDep, session: SessionDep
) -> OrgMembershipPublic:
    return await invitations.accept(
        session, user_id=principal.user_id, invitation_id=invitation_id, actor=actor_for(request, principal)
    )


@router.post("/invitations/{invitation_id}/decline", status_code=204, summary="Decline an invitation")
async def decline_invitation(
    invitation_id: uuid.UUID, request: Request, principal: PrincipalDep, session: SessionDep
) -> None:
    await invitations.decline(
        session, user_id=principal.user_id, invitation_id=invitation_id, actor=actor_for(request, principal)
    )
