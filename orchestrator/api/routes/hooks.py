"""`POST /hooks/{token}`: a webhook call starts its trigger's workflow.

No access token: the URL's token is the credential (stored as its SHA-256). Checks, in order:
the token names an enabled webhook (404), the caller's address is allowed (403), the body fits
the trigger's limit (413), the signature is valid (401). A refusal is counted in the trigger's
state with its reason; the caller gets the one error body, and the same words for a wrong token
and a bad signature, so it learns nothing about which part failed.

The event's key is the `Idempotency-Key` header when there is one (a repeat answers with the
first execution, `Idempotent-Replayed: true`), else a new id.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orchestrator.api.deps import client_ip, started
from orchestrator.db.session import release
from orchestrator.errors import ApiError, Forbidden, Invalid, NotFound, Unauthorized
from orchestrator.models.executions import Execution, ExecutionEvent
from orchestrator.models.triggers import Trigger
from orchestrator.security.principal import ip_allowed
from orchestrator.services import start_keys
from orchestrator.services.execution_states import UNKNOWN
from orchestrator.triggers import EventBus, Fired, Firer, TriggerSpec, VaultKeys, WebhookConfig, verify
from orchestrator.triggers._fire import note_error
from orchestrator.triggers._hook_cache import HookCache
from orchestrator.triggers._schemas import HookAccepted
from orchestrator.triggers._store import hash_token

router = APIRouter(prefix="/hooks", tags=["triggers"])

REFUSED = "this hook does not accept this call"
"""The one message for a wrong token and a bad signature."""
_KEPT_HEADERS = frozenset({"content-type", "user-agent", "x-github-event", "x-github-delivery", "x-request-id"})


@router.post(
    "/{token}",
    response_model=HookAccepted,
    status_code=202,
    summary="Call a webhook trigger (the URL's token is the credential)",
    responses={200: {"model": HookAccepted, "description": "wait mode: the execution ended"}},
)
async def call_hook(
    request: Request,
    token: Annotated[str, Path(min_length=1, max_length=200)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    return await answer_call(request, token, idempotency_key)


async def answer_call(request: Request, token: str, idempotency_key: str | None) -> Response:
    """What the route answers (`api/direct_hook.py` calls it without FastAPI's machinery).

    Raises:
        ApiError: the call is refused (the one error format answers it).
    """
    spec, config = await _trigger_of(request, token)
    body = await _checked_body(request, spec, config)
    key = start_keys.parse_key(idempotency_key)
    payload = _payload(request, body)
    firer: Firer = started(request.app, "trigger_firer")
    # No look-up first, even with a key: a repeat is rare, and the unique key answers it (the
    # writer refuses the unit, the first execution is read back).
    try:
        fired = await firer.fire(spec, f"idem:{key}" if key else f"call:{uuid.uuid4()}", payload, seen=False)
    except IntegrityError:
        # The kept copy of a trigger another process deleted (or whose workflow it deleted)
        # within `read_cache_s`: the row it names is gone, so the call is refused like a
        # wrong token, not answered 500.
        cache: HookCache = started(request.app, "hook_cache")
        cache.drop(hash_token(token))
        await _trigger_of(request, token)  # raises NotFound when the trigger is gone
        raise
    if fired.outcome != "started" or fired.execution_id is None:
        raise Invalid(
            f"the call was received but started nothing: {fired.error or fired.outcome}",
            code="trigger_failed",
            details={"outcome": fired.outcome},
        )
    answer = await _answer(request, config, fired)
    if not fired.new:
        answer.headers["Idempotent-Replayed"] = "true"
    return answer


async def _trigger_of(request: Request, token: str) -> tuple[TriggerSpec, WebhookConfig]:
    """The enabled webhook the token names (kept a moment: `triggers/_hook_cache.py`)."""
    cache: HookCache = started(request.app, "hook_cache")
    token_hash = hash_token(token)
    kept = cache.get(token_hash)
    if kept is not None:
        return kept
    generation = cache.mark()
    session = request.app.state.db.sessions()
    try:
        trigger: Trigger | None = await session.scalar(select(Trigger).where(Trigger.token_hash == token_hash))
    finally:
        await release(session)
    if trigger is None or trigger.kind != "webhook" or not trigger.enabled:
        raise NotFound(REFUSED, code="not_found")
    found = (TriggerSpec.of(trigger), WebhookConfig.model_validate(trigger.config))
    cache.put(token_hash, generation, found)
    return found


async def _checked_body(request: Request, spec: TriggerSpec, config: WebhookConfig) -> bytes:
    if config.allow_ips and not ip_allowed(client_ip(request), config.allow_ips):
        await _refuse(request, spec, f"refused a call from {client_ip(request)}: not in allow_ips")
        raise Forbidden("this hook does not accept calls from this address", code="forbidden")
    body = await request.body()
    if len(body) > config.max_body_bytes:
        await _refuse(request, spec, f"refused a body of {len(body)} bytes (max_body_bytes {config.max_body_bytes})")
        raise ApiError(
            f"the request body is larger than the {config.max_body_bytes} bytes this hook accepts",
            status=413,
            code="too_large",
            details={"limit": config.max_body_bytes},
        )
    if config.signature is not None:
        keys: VaultKeys = started(request.app, "trigger_secrets")
        secret = await keys.get(spec.org_id, config.signature.secret)
        headers = {name.lower(): value for name, value in request.headers.items()}
        if secret is None or not verify(config.signature, secret.encode(), headers, body, time.time()):
            why = "its signing secret is missing from the vault" if secret is None else "a bad or missing signature"
            await _refuse(request, spec, f"refused a call: {why}")
            raise Unauthorized(REFUSED, code="unauthorized")
    return body


async def _refuse(request: Request, spec: TriggerSpec, reason: str) -> None:
    async with request.app.state.db.transaction() as session:
        await note_error(session, spec.id, reason, refused=True)


def _payload(request: Request, body: bytes) -> dict[str, Any]:
    """What the input mapping reads as `event`: the body parsed by its content type (JSON, form,
    text, or base64 for bytes), the query, a few headers and the caller's address."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    parsed: Any
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            raise Invalid("the body is not valid JSON", code="invalid_body") from None
    elif content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        parsed = {name: values[0] if len(values) == 1 else values for name, values in form.items()}
    else:
        parsed = _text(body, sniff_json=not content_type)
    return {
        "body": parsed,
        "query": dict(request.query_params),
        "headers": {name: value for name, value in request.headers.items() if name.lower() in _KEPT_HEADERS},
        "content_type": content_type,
        "ip": client_ip(request),
    }


def _text(body: bytes, *, sniff_json: bool) -> Any:
    """A body of another type: text (JSON too when no type was given), or base64 for bytes."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}
    if sniff_json and text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


async def _answer(request: Request, config: WebhookConfig, fired: Fired) -> Response:
    assert fired.execution_id is not None
    accepted = HookAccepted(execution_id=fired.execution_id, outcome=fired.outcome)
    if config.respond == "accepted":
        return _json(accepted, 202)
    bus: EventBus = started(request.app, "trigger_bus")
    ended = await bus.wait_for_end(fired.execution_id, config.wait_s, new=fired.new)
    if ended is None:
        return _json(accepted, 202)
    state, outputs = ended.state, ended.outputs
    if config.respond == "node" or outputs is UNKNOWN:
        session = request.app.state.db.sessions()
        try:
            if config.respond == "node":
                outputs = await _node_output(session, fired.execution_id, config.node or "")
            elif outputs is UNKNOWN:  # the end was seen in the database, or stored without them in hand
                outputs = await session.scalar(select(Execution.outputs).where(Execution.id == fired.execution_id))
        finally:
            await release(session)
    return _json(HookAccepted(**{**accepted.model_dump(), "state": state, "outputs": outputs}), 200)


async def _node_output(session: Any, execution_id: uuid.UUID, node: str) -> Any:
    row = await session.scalar(
        select(ExecutionEvent.data)
        .where(
            ExecutionEvent.execution_id == execution_id,
            ExecutionEvent.type == "node.succeeded",
            ExecutionEvent.path == node,
        )
        .order_by(ExecutionEvent.seq.desc())
        .limit(1)
    )
    return (row or {}).get("output")


def _json(model: HookAccepted, status: int) -> Response:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)
