"""The /executions resource: start, list, read, journal, history, artifacts, cancel, retry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.api.deps import HubDep, PageDep, SessionDep, SettingsDep, client_ip, get_dispatcher, get_hub, require
from orchestrator.api.routes.artifacts import artifact_response
from orchestrator.db.session import after_commit, release
from orchestrator.errors import ApiError, Conflict
from orchestrator.runtime.dispatch import why_waiting
from orchestrator.runtime.eager import start_now
from orchestrator.runtime.live import journal_stream
from orchestrator.schemas.executions import (
    MAX_BATCH_STARTS,
    MAX_SEQ,
    AiUsagePublic,
    ArtifactPublic,
    ExecutionBatchCreate,
    ExecutionBatchPublic,
    ExecutionCancel,
    ExecutionCreate,
    ExecutionEventPublic,
    ExecutionEventsPage,
    ExecutionPublic,
    ExecutionRetry,
    ExecutionTransitionPublic,
    StateName,
)
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import artifacts as artifact_service
from orchestrator.services import executions as service
from orchestrator.services import start_keys
from orchestrator.services.audit import Actor
from orchestrator.services.execution_ai_usage import ai_usage
from shared.protocol import JobCancel
from shared.states import TERMINAL_STATES

router = APIRouter(prefix="/executions", tags=["executions"])

Reader = Annotated[Principal, Depends(require(Permission.EXECUTIONS_READ))]
STARTER = require(Permission.EXECUTIONS_START)
"""The check of the start routes (also `api/direct_start.py`'s)."""
Starter = Annotated[Principal, Depends(STARTER)]
Canceller = Annotated[Principal, Depends(require(Permission.EXECUTIONS_CANCEL))]


def _actor(principal: Principal, request: Request) -> Actor:
    return Actor(principal.user_id, principal.email, client_ip(request), getattr(request.state, "request_id", None))


def _dispatch_after_commit(session: AsyncSession, request: Request) -> None:
    dispatcher = get_dispatcher(request)
    after_commit(session, lambda: dispatcher.kick(work=True))


def _cancel_after_commit(session: AsyncSession, request: Request, execution_id: uuid.UUID, reason: str) -> None:
    link = get_hub(request).holder_of(execution_id)
    if link is None:
        return
    message = JobCancel(execution_id=str(execution_id), force=False, reason=reason or "cancelled")

    after_commit(session, lambda: start_now(link.send(message), keep=_PENDING))


_PENDING: set[asyncio.Task[None]] = set()


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Makes the start safe to retry: the same key (same caller and organisation) within "
            "`RPA_IDEMPOTENCY_TTL_S` (a day by default) answers with the executions of the first request and "
            "stores nothing new; another body under the same key is refused (422 `idempotency_key_reused`). "
            "1 to 255 printable ASCII characters, e.g. a UUID."
        ),
    ),
]


@router.post("", response_model=ExecutionPublic, status_code=201, summary="Start a workflow (manual trigger)")
async def start(
    body: ExecutionCreate, principal: Starter, request: Request, idempotency_key: IdempotencyKey = None
) -> Response:
    key = start_keys.parse_key(idempotency_key)
    if key is None:
        return await store_start(request, await prepare_start(body, principal, request))

    async def prepare() -> list[service.NewExecution]:
        return [await prepare_start(body, principal, request)]

    return await _start_keyed(request, _keyed(principal, key, "start", body), prepare, batch=False)


async def prepare_start(body: ExecutionCreate, principal: Principal, request: Request) -> service.NewExecution:
    """The start `body` asks for, checked and built (reads only; the route's and
    `api/direct_start.py`'s)."""
    session = request.app.state.db.sessions()  # reads only; the connection goes back before the writer works
    try:
        return await service.prepare_start(
            session,
            org_id=principal.org_id,
            actor=_actor(principal, request),
            workflow_id=body.workflow_id,
            version=body.version,
            inputs=body.inputs,
            priority=body.priority,
            deadline_s=body.deadline_s,
            cache=request.app.state.pin_cache,
            role=principal.role,
        )
    finally:
        await release(session)


async def store_start(request: Request, new: service.NewExecution) -> Response:
    """Stored with the starts of other requests in one transaction; answered once committed."""
    return _created(ExecutionPublic.of(await request.app.state.start_writer.submit(new)))


@router.post(
    "/batch",
    response_model=ExecutionBatchPublic,
    status_code=201,
    summary=f"Start up to {MAX_BATCH_STARTS} executions at once (all are stored, or none)",
)
async def start_many(
    body: ExecutionBatchCreate, principal: Starter, request: Request, idempotency_key: IdempotencyKey = None
) -> Response:
    key = start_keys.parse_key(idempotency_key)
    if key is not None:
        return await _start_keyed(
            request, _keyed(principal, key, "batch", body), lambda: _prepare_many(body, principal, request), batch=True
        )
    stored = await request.app.state.start_writer.submit_many(await _prepare_many(body, principal, request))
    return _created(ExecutionBatchPublic(items=[ExecutionPublic.of(execution) for execution in stored]))


async def _prepare_many(
    body: ExecutionBatchCreate, principal: Principal, request: Request
) -> list[service.NewExecution]:
    actor = _actor(principal, request)
    pins: dict[Any, Any] = {}
    news: list[service.NewExecution] = []
    session = request.app.state.db.sessions()
    try:
        for index, item in enumerate(body.items):
            try:
                news.append(
                    await service.prepare_start(
                        session,
                        org_id=principal.org_id,
                        actor=actor,
                        workflow_id=item.workflow_id,
                        version=item.version,
                        inputs=item.inputs,
                        priority=item.priority,
                        deadline_s=item.deadline_s,
                        pins=pins,
                        cache=request.app.state.pin_cache,
                        role=principal.role,
                    )
                )
            except ApiError as error:
                raise _at_item(error, index) from None
    finally:
        await release(session)
    return news


def _keyed(
    principal: Principal, key: str, route: str, body: ExecutionCreate | ExecutionBatchCreate
) -> start_keys.KeyedStart:
    return start_keys.KeyedStart(
        org_id=principal.org_id,
        caller=principal.user_id,
        key=key,
        request_hash=start_keys.request_hash(route, body.model_dump(mode="json")),
    )


async def _start_keyed(
    request: Request,
    keyed: start_keys.KeyedStart,
    prepare: Callable[[], Awaitable[list[service.NewExecution]]],
    *,
    batch: bool,
) -> Response:
    """A start with an `Idempotency-Key`: the first request's executions if the key is stored,
    else a new start stored with its key (`services/start_keys.py`)."""
    replay = await _replay(request, keyed, batch=batch)
    if replay is not None:
        return replay
    news = await prepare()
    news[0] = replace(
        news[0], key=keyed.row([new.execution.id for new in news], request.app.state.settings.idempotency_ttl_s)
    )
    try:
        stored = await request.app.state.start_writer.submit_many(news)
    except IntegrityError:  # a concurrent request with the same key was stored first
        replay = await _replay(request, keyed, batch=batch)
        if replay is None:
            raise
        return replay
    items = [ExecutionPublic.of(execution) for execution in stored]
    return _created(ExecutionBatchPublic(items=items) if batch else items[0])


async def _replay(request: Request, keyed: start_keys.KeyedStart, *, batch: bool) -> Response | None:
    """The answer to a repeated keyed start: the executions the first request made, as they are now."""
    session = request.app.state.db.sessions()
    try:
        executions = await start_keys.find(session, keyed)
        if executions is None:
            return None
        if not executions:  # removed since (their organisation's retention): the key names nothing
            raise Conflict(
                "the executions this Idempotency-Key started no longer exist; use a new key",
                code="idempotency_key_reused",
            )
        items = [ExecutionPublic.of(execution) for execution in executions]
    finally:
        await release(session)
    response = _created(ExecutionBatchPublic(items=items) if batch else items[0])
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _created(answer: ExecutionPublic | ExecutionBatchPublic) -> Response:
    """A 201 serialised by the model itself: a route's returned model is validated against its
    `response_model` again before FastAPI serialises it, which a start, built from its stored row
    just now, does not need."""
    return Response(answer.model_dump_json(), status_code=201, media_type="application/json")


def _at_item(error: ApiError, index: int) -> ApiError:
    """The same error, saying which item it is about (`items[3]: …`, `items[3].inputs.customer`)."""
    where = f"items[{index}]"
    details = error.details
    if isinstance(details, list):
        details = [
            {**d, "location": f"{where}.{d['location']}"} if isinstance(d, dict) and "location" in d else d
            for d in details
        ]
    elif isinstance(details, dict):
        details = {**details, "item": index}
    else:
        details = {"item": index}
    return type(error)(
        f"{where}: {error.message}", code=error.code, status=error.status, details=details, headers=error.headers
    )


@router.get("", response_model=Page[ExecutionPublic], summary="List executions, newest first")
async def list_executions(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    state: Annotated[list[StateName] | None, Query(description="Any of these states (repeat the parameter).")] = None,
    workflow_id: Annotated[uuid.UUID | None, Query()] = None,
    trigger: Annotated[str | None, Query(max_length=30, description="Trigger type: manual, retry, …")] = None,
    created_after: Annotated[datetime | None, Query(description="Inclusive.")] = None,
    created_before: Annotated[datetime | None, Query(description="Exclusive.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Workflow name contains, or id prefix.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page.")] = None,
) -> Page[ExecutionPublic]:
    filters = service.ExecutionFilters(
        states=list(state or []),
        workflow_id=workflow_id,
        trigger_type=trigger,
        created_after=created_after,
        created_before=created_before,
        q=q,
    )
    rows, (total, capped), next_cursor = await service.list_executions(
        session, principal.org_id, filters, limit=page.limit, offset=page.offset, cursor=cursor
    )
    return Page[ExecutionPublic](
        items=[ExecutionPublic.of(r) for r in rows],
        total=total,
        total_capped=capped,
        limit=page.limit,
        offset=page.offset,
        next_cursor=next_cursor,
    )


@router.get("/{execution_id}", response_model=ExecutionPublic, summary="One execution")
async def get(execution_id: uuid.UUID, principal: Reader, session: SessionDep, hub: HubDep) -> ExecutionPublic:
    execution = await service.get_execution(session, principal.org_id, execution_id)
    public = ExecutionPublic.of(execution)
    public.waiting_reason = await why_waiting(session, hub, execution)
    usage = await ai_usage(session, execution.id)
    public.ai_usage = AiUsagePublic.model_validate(usage) if usage is not None else None
    return public


@router.get("/{execution_id}/events", response_model=ExecutionEventsPage, summary="The execution's journal, by seq")
async def events(
    execution_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Only events with a greater seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ExecutionEventsPage:
    execution = await service.get_execution(session, principal.org_id, execution_id)
    rows, next_after = await service.list_events(session, execution, after_seq=after_seq, limit=limit)
    return ExecutionEventsPage(
        items=[ExecutionEventPublic.of(r) for r in rows],
        limit=limit,
        after_seq=after_seq,
        next_after_seq=next_after,
        last_seq=execution.last_seq,
    )


@router.get(
    "/{execution_id}/stream",
    response_class=StreamingResponse,
    response_model=None,
    summary="The execution's journal as Server-Sent Events; with follow=true, live until it ends",
    responses={200: {"content": {"text/event-stream": {}}, "description": "`journal` events, then `end`"}},
)
async def stream(
    execution_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    request: Request,
    hub: HubDep,
    after_seq: Annotated[
        int, Query(ge=0, le=MAX_SEQ, description="Start after this seq (Last-Event-ID works too).")
    ] = 0,
    follow: Annotated[bool, Query(description="Keep streaming new events until the execution ends.")] = False,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_SEQ,
            description=(
                "The seq of the last event received (an EventSource sends it when it reconnects); wins over after_seq."
            ),
        ),
    ] = None,
) -> StreamingResponse:
    await service.get_execution(session, principal.org_id, execution_id)
    start = after_seq if last_event_id is None else last_event_id
    return StreamingResponse(
        journal_stream(request.app.state.db, hub, execution_id, start, follow=follow),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/{execution_id}/transitions",
    response_model=Page[ExecutionTransitionPublic],
    summary="The execution's state changes, oldest first",
)
async def transitions(
    execution_id: uuid.UUID, principal: Reader, session: SessionDep, page: PageDep
) -> Page[ExecutionTransitionPublic]:
    execution = await service.get_execution(session, principal.org_id, execution_id)
    rows, total = await service.list_transitions(session, execution, limit=page.limit, offset=page.offset)
    return Page[ExecutionTransitionPublic](
        items=[ExecutionTransitionPublic.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{execution_id}/artifacts", response_model=Page[ArtifactPublic], summary="The execution's artifacts")
async def artifacts(
    execution_id: uuid.UUID, principal: Reader, session: SessionDep, page: PageDep
) -> Page[ArtifactPublic]:
    execution = await service.get_execution(session, principal.org_id, execution_id)
    rows, total = await artifact_service.list_artifacts(session, execution, limit=page.limit, offset=page.offset)
    return Page[ArtifactPublic](
        items=[ArtifactPublic.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/{execution_id}/artifacts/{artifact_id}",
    response_class=StreamingResponse,
    response_model=None,
    summary="Download one artifact",
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file, streamed"}},
)
async def download_artifact(
    execution_id: uuid.UUID, artifact_id: uuid.UUID, principal: Reader, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    execution = await service.get_execution(session, principal.org_id, execution_id)
    artifact = await artifact_service.get_artifact(session, execution, artifact_id)
    return await artifact_response(settings, artifact)


@router.post(
    "/{execution_id}/cancel",
    response_model=ExecutionPublic,
    summary="Cancel (at once when queued; running ones stop when their agent confirms)",
)
async def cancel(
    execution_id: uuid.UUID,
    principal: Canceller,
    session: SessionDep,
    request: Request,
    body: ExecutionCancel | None = None,
) -> ExecutionPublic:
    execution = await service.get_execution(session, principal.org_id, execution_id, for_update=True)
    await service.cancel_execution(
        session, execution, actor=_actor(principal, request), reason=body.reason if body else ""
    )
    if execution.state not in TERMINAL_STATES:
        _cancel_after_commit(session, request, execution.id, body.reason if body else "")
    return ExecutionPublic.of(execution)


@router.post(
    "/{execution_id}/retry",
    response_model=ExecutionPublic,
    status_code=201,
    summary="Run a finished execution again (same version and inputs), optionally resuming its journal",
)
async def retry(
    execution_id: uuid.UUID,
    principal: Starter,
    session: SessionDep,
    request: Request,
    body: ExecutionRetry | None = None,
) -> ExecutionPublic:
    parent = await service.get_execution(session, principal.org_id, execution_id)
    execution = await service.retry_execution(
        session, parent, actor=_actor(principal, request), resume=body.resume if body else False, role=principal.role
    )
    _dispatch_after_commit(session, request)
    return ExecutionPublic.of(execution)
