"""Authentication: who am I (login, refresh, MFA and sessions are added here)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from orchestrator.api.deps import PrincipalDep

router = APIRouter(prefix="/auth", tags=["auth"])


class MePublic(BaseModel):
    user_id: uuid.UUID
    org_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    role: str
    permissions: list[str]


@router.get("/me", response_model=MePublic, summary="The caller, their organisation and permissions")
async def me(principal: PrincipalDep) -> MePublic:
    return MePublic(user_id=principal.user_id, org_id=principal.org_id, session_id=principal.session_id,
                    email=principal.email, role=principal.role, permissions=sorted(principal.permissions))
