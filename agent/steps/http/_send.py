"""Send one request with retries: the loop every `http.*` step shares.

The answer comes back open (streamed) so a download never holds the body in memory; the caller
reads or closes it. A status the flow does not accept raises `status_error` once the retries
are spent (or at once when retrying cannot help).
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from agent.steps._storage_io import is_url, open_for_read
from agent.steps.http._auth import apply_auth
from agent.steps.http._client import client_for
from agent.steps.http._errors import import_httpx, map_httpx_errors, safe_url, status_error
from agent.steps.http._models import OAuth2ClientCredentials, RequestBase, RequestParams
from agent.steps.http._retry import backoff_delay, may_retry, parse_retry_after
from shared.errors import StepError
from shared.steps import context

BodyBuilder = Callable[[ExitStack], dict[str, Any]]


def body_of(params: RequestBase) -> BodyBuilder:
    """A builder of the body arguments of `build_request` (files are opened anew for each try)."""

    def build(stack: ExitStack) -> dict[str, Any]:
        if not isinstance(params, RequestParams):
            return {}
        if params.json_body is not None:
            return {"json": params.json_body}
        if params.content is not None:
            return {"content": params.content}
        body: dict[str, Any] = {}
        if params.form is not None:
            body["data"] = {k: v if isinstance(v, str | list) else str(v) for k, v in params.form.items()}
        if params.files:
            body["files"] = [
                _file_part(stack, part.field, part.path, part.filename, part.content_type, part.storage_credential)
                for part in params.files
            ]
        return body

    return build


def _file_part(
    stack: ExitStack, field: str, path: str, filename: str | None, content_type: str | None, credential: str | None
) -> Any:
    name = filename or path.rstrip("/").rsplit("/", 1)[-1]
    kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if is_url(path):
        # Streamed from the storage as httpx sends it (seekable, so its length is known).
        return (field, (name, stack.enter_context(open_for_read(path, credential)), kind))
    file = Path(path)
    if not file.is_file():
        raise StepError(f"the file to send {path} does not exist", kind="validation", retryable=False)
    return (field, (filename or file.name, stack.enter_context(file.open("rb")), kind))


def accepted(status: int, params: RequestBase) -> bool:
    """2xx (and 3xx when redirects are not followed), or a status the flow lists."""
    return (
        200 <= status < 300 or status in params.accept_status or (not params.follow_redirects and 300 <= status < 400)
    )


async def _sleep(seconds: float) -> None:
    # Short slices so a cancelled execution stops waiting.
    ctx = context()
    left = seconds
    while left > 0:
        ctx.raise_if_cancelled()
        await asyncio.sleep(min(0.2, left))
        left -= 0.2


async def _body_text(response: Any) -> str:
    try:
        await response.aread()
        return str(response.text)
    except Exception:  # the answer is already an error; its body is a courtesy
        return ""
    finally:
        await response.aclose()


class _Retry(Exception):
    def __init__(self, error: StepError, wait_s: float | None) -> None:
        self.error = error
        self.wait_s = wait_s
        if wait_s is not None:
            # One key across the families, read by the engine's retry (`shared/engine/_retry.py`).
            error.details["retry_after"] = wait_s


async def _try_once(client: Any, params: RequestBase, build: BodyBuilder, *, renew: bool) -> Any:
    headers = params.headers
    query = params.query
    if params.auth is not None:
        headers, query = dict(headers), dict(query)  # the credential goes in copies, never in params
        await apply_auth(client, params.auth, headers, query, params.timeout_s, renew=renew)
    with ExitStack() as stack, map_httpx_errors(params.method, params.url):
        # `params=` would replace a query already in the URL: merge instead.
        url = import_httpx().URL(params.url).copy_merge_params(query) if query else params.url
        request = client.build_request(params.method, url, headers=headers, timeout=params.timeout_s, **build(stack))
        return await client.send(request, stream=True, follow_redirects=params.follow_redirects)


async def send(params: RequestBase, build: BodyBuilder | None = None) -> Any:
    """Send `params` (retrying as it allows) and return the open `httpx.Response`.

    Raises:
        StepError: the mapped transport error, or kind `http_status` for a refused status.
    """
    client = client_for(params.tls)
    build = build or body_of(params)
    retriable = may_retry(params.method, retry_non_idempotent=params.retry_non_idempotent)
    renew, renewed = False, False
    retry = 0
    while True:
        try:
            response = await _try_once(client, params, build, renew=renew)
            renew = False
            if accepted(response.status_code, params):
                return response
            if response.status_code == 401 and isinstance(params.auth, OAuth2ClientCredentials) and not renewed:
                await response.aclose()
                renew = renewed = True
                continue
            error = status_error(params.method, response, await _body_text(response))
            if not error.retryable:
                raise error
            raise _Retry(error, parse_retry_after(response.headers.get("retry-after")))
        except _Retry as again:
            error, wait = again.error, again.wait_s
        except StepError as exc:
            if not exc.retryable or exc.kind not in ("connection", "timeout"):
                raise
            error, wait = exc, None
        retry += 1
        if not retriable or retry > params.retries:
            raise error
        wait = backoff_delay(retry, params.backoff_s, params.max_wait_s) if wait is None else wait
        if wait > params.max_wait_s:
            raise error
        context().log(
            f"{params.method} {safe_url(params.url)}: {error.kind}, try {retry + 1} in {wait:.2f} s", "warning"
        )
        await _sleep(wait)
