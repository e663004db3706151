"""The AI routes: the flow builder, failure diagnosis, and what they cost the organisation.

Both ask the organisation's model (its API key from the vault credential `settings.ai_credential`),
are rate-limited per organisation (`settings.ai_requests_per_minute`, on top of the API's per-user
limit: every request costs tokens; counted in `ai_usage`, so every orchestrator process on the
database shares the budget), audited (`ai.flow`, `execution.diagnose`, with attempts and tokens,
never the description or the answer), and record their tokens in `ai_usage`. No database
session is held while the model answers: the reads before and the writes after are transactions
of their own, so the usage of a request that ends in a 422 is stored too.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.api.deps import SessionDep, SettingsDep, actor_for, require
from orchestrator.errors import Conflict, TooManyRequests
from orchestrator.schemas.ai import AiUsagePublic, AiUsageReport, AiUsageRow, DiagnosisPublic, FlowProposal, FlowRequest
from orchestrator.security.crypto import KeyRing
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import ai, vault
from orchestrator.services import executions as execution_service
from orchestrator.services.audit import Actor, record
from orchestrator.services.execution_journal import list_events
from orchestrator.services.workflows import version_document
from orchestrator.settings import Settings

router = APIRouter(tags=["ai"])

Designer = Annotated[Principal, Depends(require(Permission.WORKFLOWS_WRITE))]
Reader = Annotated[Principal, Depends(require(Permission.EXECUTIONS_READ))]
OrgReader = Annotated[Principal, Depends(require(Permission.ORG_READ))]

MAX_JOURNAL_READ = 5000
"""Events read from the end of the journal of the execution to diagnose (the failure is near its end)."""


async def _reserve(
    session: AsyncSession, principal: Principal, settings: Settings, feature: str, model: str
) -> uuid.UUID:
    """One of the organisation's AI requests of the minute, shared by every orchestrator process."""
    try:
        return await ai.reserve_request(
            session,
            principal.org_id,
            per_minute=settings.ai_requests_per_minute,
            feature=feature,
            model=model,
            user_id=principal.user_id,
        )
    except ai.AiBudgetExceeded as exc:
        retry_after = max(1, math.ceil(exc.retry_after_s))
        raise TooManyRequests(
            f"too many AI requests for this organisation; retry in {retry_after} s",
            code="ai_rate_limited",
            details={"retry_after_s": retry_after},
            headers={"Retry-After": str(retry_after)},
        ) from None


def _ring(request: Request) -> KeyRing:
    return vault.keyring_for(request.app.state.settings, request.app.state.master_key)


def _usage(outcome: ai.Outcome[Any], model: str) -> AiUsagePublic:
    u = outcome.usage
    return AiUsagePublic(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cost_usd=ai.cost_usd(model, u.input_tokens, u.output_tokens),
    )


async def _account(
    request: Request,
    principal: Principal,
    actor: Actor,
    *,
    feature: str,
    action: str,
    target: tuple[str, str],
    model: str,
    outcome: ai.Outcome[Any],
    failed: bool,
    reservation: uuid.UUID,
) -> None:
    """Store the request's tokens and its audit entry, in a transaction of their own: also when
    the provider failed after some answers (`failed`), since their tokens were spent."""
    result = "error" if failed else "valid" if outcome.result is not None else "invalid"
    async with request.app.state.db.transaction() as session:
        await ai.record_usage(
            session,
            principal.org_id,
            feature=feature,
            model=model,
            attempts=outcome.attempts,
            usage=outcome.usage,
            user_id=principal.user_id,
            outcome=result,
            reservation=reservation,
        )
        await record(
            session,
            org_id=principal.org_id,
            actor=actor,
            action=action,
            target_type=target[0],
            target_id=target[1],
            summary={
                "model": model,
                "attempts": outcome.attempts,
                "input_tokens": outcome.usage.input_tokens,
                "output_tokens": outcome.usage.output_tokens,
                "outcome": result,
            },
        )


@router.post(
    "/ai/flows",
    response_model=FlowProposal,
    summary="Propose a flow from a description (or a change to the given flow)",
    description="The model's answer is validated against the flow format and the step catalogue and "
    "asked again with the problems until it validates or `RPA_AI_MAX_ATTEMPTS` answers were given: then "
    "422 `ai_invalid_answer` with the last answer's `problems`. 409 `ai_not_configured` when the "
    "organisation has no AI credential; 429 `ai_rate_limited` over the organisation's AI budget.",
)
async def propose_flow(body: FlowRequest, principal: Designer, request: Request, settings: SettingsDep) -> FlowProposal:
    actor = actor_for(request, principal)
    async with request.app.state.db.transaction() as session:
        model = await ai.org_model(session, principal.org_id, settings, _ring(request), actor)
        reservation = await _reserve(session, principal, settings, "flow", model.model)
    outcome: ai.Outcome[dict[str, Any]] = ai.Outcome(None)
    failed = True
    try:
        await ai.build_flow(
            model, body.description, current=body.flow, max_attempts=settings.ai_max_attempts, outcome=outcome
        )
        failed = False
    finally:
        await _account(
            request,
            principal,
            actor,
            feature="flow",
            action="ai.flow",
            target=("ai", ""),
            model=model.model,
            outcome=outcome,
            failed=failed,
            reservation=reservation,
        )
    flow = outcome.valid()
    return FlowProposal(flow=flow, model=model.model, attempts=outcome.attempts, usage=_usage(outcome, model.model))


@router.post(
    "/executions/{execution_id}/diagnose",
    response_model=DiagnosisPublic,
    summary="Explain why a failed execution failed and propose a fix as a JSON Patch",
    description="Sends the failed node, its error, its params and the journal events before the failure, "
    "as stored (masked by the agent, and masked again here), never a credential value. The patch "
    "(RFC 6902) applies to the execution's version of the flow and the result validates, else 422 "
    "`ai_invalid_answer`. 409 `not_failed` for an execution that did not fail.",
)
async def diagnose_execution(
    execution_id: uuid.UUID, principal: Reader, request: Request, settings: SettingsDep
) -> DiagnosisPublic:
    actor = actor_for(request, principal)
    async with request.app.state.db.transaction() as session:
        execution = await execution_service.get_execution(session, principal.org_id, execution_id)
        if execution.state != "failed":
            raise Conflict(f"execution {execution_id} is {execution.state}, not failed", code="not_failed")
        flow = await version_document(session, execution.version_id)
        newest = max(execution.last_seq, execution.stored_seq)
        after = max(0, newest - MAX_JOURNAL_READ)  # the failure ends the journal: read its tail
        events, _ = await list_events(session, execution, after_seq=after, limit=MAX_JOURNAL_READ)
        failure = ai.find_failure(flow, events, execution.error)
        model = await ai.org_model(session, principal.org_id, settings, _ring(request), actor)
        reservation = await _reserve(session, principal, settings, "diagnose", model.model)
        workflow_id, version_number, error = execution.workflow_id, execution.version_number, execution.error
    outcome: ai.Outcome[ai.Diagnosis] = ai.Outcome(None)
    failed = True
    try:
        await ai.diagnose(model, flow, events, error, max_attempts=settings.ai_max_attempts, outcome=outcome)
        failed = False
    finally:
        await _account(
            request,
            principal,
            actor,
            feature="diagnose",
            action="execution.diagnose",
            target=("execution", str(execution_id)),
            model=model.model,
            outcome=outcome,
            failed=failed,
            reservation=reservation,
        )
    diagnosis = outcome.valid()
    return DiagnosisPublic(
        execution_id=str(execution_id),
        workflow_id=str(workflow_id),
        version_number=version_number,
        failed_node={
            "path": failure.path,
            "id": failure.node_id,
            "type": (failure.node or {}).get("type"),
            "json_pointer": failure.pointer,
        },
        explanation=diagnosis.explanation,
        patch=diagnosis.patch,
        flow=diagnosis.flow,
        model=model.model,
        attempts=outcome.attempts,
        usage=_usage(outcome, model.model),
    )


@router.get("/ai/usage", response_model=AiUsageReport, summary="The organisation's AI tokens and cost")
async def ai_usage(
    principal: OrgReader,
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="Only requests from then on (ISO 8601).")] = None,
) -> AiUsageReport:
    rows = [AiUsageRow(**row) for row in await ai.usage_summary(session, principal.org_id, since)]
    return AiUsageReport(
        since=since,
        items=rows,
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), 6),
    )
