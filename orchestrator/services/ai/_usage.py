"""The organisation's AI: its model client (key from the vault) and what its requests cost."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.errors import ApiError, NotFound
from orchestrator.models.ai import AiUsage
from orchestrator.security.crypto import KeyRing
from orchestrator.services import vault
from orchestrator.services.ai._model import AnthropicModel, Usage, cost_usd
from orchestrator.services.audit import Actor
from orchestrator.settings import Settings

_KEY_FIELDS = ("token", "api_key", "password")


def _api_key(name: str, value: dict[str, Any]) -> str:
    nested = value.get("values")
    fields: dict[str, Any] = nested if isinstance(nested, dict) else value
    for field in _KEY_FIELDS:
        key = fields.get(field)
        if isinstance(key, str) and key:
            return key
    raise ApiError(
        f"the AI credential '{name}' holds no API key (a token credential, or a key/value one with 'api_key')",
        code="ai_not_configured",
        status=409,
    )


async def org_model(
    session: AsyncSession, org_id: uuid.UUID, settings: Settings, ring: KeyRing, actor: Actor
) -> AnthropicModel:
    """The organisation's model client, with the API key of its AI credential (`settings.ai_credential`).

    Raises:
        ApiError: (409 `ai_not_configured`) the organisation has no such credential, or it holds no key.
    """
    name = settings.ai_credential
    try:
        values = await vault.reveal(session, org_id, [name], ring, actor=actor, purpose="ai")
    except NotFound:
        raise ApiError(
            f"no AI credential: create a token credential named '{name}' holding the organisation's API key",
            code="ai_not_configured",
            status=409,
        ) from None
    return AnthropicModel(
        api_key=_api_key(name, values[name]),
        model=settings.ai_model,
        base_url=settings.ai_base_url,
        timeout_s=settings.ai_timeout_s,
        max_retries=settings.ai_max_retries,
        max_tokens=settings.ai_max_tokens,
    )


async def record_usage(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    feature: str,
    model: str,
    attempts: int,
    usage: Usage,
    user_id: uuid.UUID | None,
    outcome: str,
    reservation: uuid.UUID | None = None,
) -> AiUsage:
    """Store what one AI request cost the organisation: in its `reserve_request` row when given
    (which keeps its admission time), else in a new row."""
    values = {
        "feature": feature,
        "model": model,
        "attempts": attempts,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": cost_usd(model, usage.input_tokens, usage.output_tokens),
        "user_id": user_id,
        "outcome": outcome,
    }
    row = await session.get(AiUsage, reservation) if reservation is not None else None
    if row is None or row.org_id != org_id:
        row = AiUsage(org_id=org_id, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    await session.flush()
    return row


async def usage_summary(session: AsyncSession, org_id: uuid.UUID, since: datetime | None) -> list[dict[str, Any]]:
    """The organisation's AI usage since `since` (all time when None), one row per feature and model."""
    query = (
        select(
            AiUsage.feature,
            AiUsage.model,
            func.count(),
            func.sum(AiUsage.attempts),
            func.sum(AiUsage.input_tokens),
            func.sum(AiUsage.output_tokens),
            func.sum(AiUsage.cost_usd),
        )
        .where(AiUsage.org_id == org_id)
        .group_by(AiUsage.feature, AiUsage.model)
        .order_by(AiUsage.feature, AiUsage.model)
    )
    if since is not None:
        query = query.where(AiUsage.created_at >= since)
    return [
        {
            "feature": feature,
            "model": model,
            "requests": int(requests),
            "attempts": int(attempts or 0),
            "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
            "cost_usd": round(float(cost or 0), 6),
        }
        for feature, model, requests, attempts, tokens_in, tokens_out, cost in (await session.execute(query)).all()
    ]
