"""The `http.*` steps: request, download, paginate."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jmespath

from agent.steps._storage_io import display, exists, is_url, store_file
from agent.steps.http._errors import map_httpx_errors, safe_url
from agent.steps.http._models import DownloadParams, PaginateParams, RequestParams
from agent.steps.http._send import send
from shared.errors import BusinessError, StepError
from shared.steps import context, step

CHUNK = 64 * 1024


HIDDEN_COOKIES = "(hidden: kept in the execution's cookie jar)"


def _headers(response: Any) -> dict[str, str]:
    # Repeated headers are joined the way HTTP allows. Set-Cookie often carries a session token:
    # the client keeps cookies for the execution's later requests, the journal never sees them.
    # As `Headers.multi_items()` (keys lower-cased, then decoded) with its encoding read once:
    # the property is worked out again on each read, twice per header there.
    raw = response.headers
    encoding = raw.encoding
    headers: dict[str, str] = {}
    for raw_key, raw_value in raw.raw:
        key = raw_key.lower().decode(encoding)
        if key == "set-cookie":
            headers[key] = HIDDEN_COOKIES
        elif key in headers:
            headers[key] = f"{headers[key]}, {raw_value.decode(encoding)}"
        else:
            headers[key] = raw_value.decode(encoding)
    return headers


def _is_json(headers: dict[str, str]) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return bool(kind == "application/json" or kind.endswith("+json"))


def _decode(response: Any, headers: dict[str, str], how: str, method: str) -> dict[str, Any]:
    """`headers`: the answer's, as `_headers` gives them (the content type is read there)."""
    if how == "none" or not response.content:
        return {"json": None, "text": None if how == "none" else ""}
    if how == "json" or (how == "auto" and _is_json(headers)):
        try:
            return {"json": response.json(), "text": None}
        except ValueError:
            where = f"{method} {safe_url(response.request.url)}"
            raise BusinessError(f"{where} did not answer JSON: {response.text[:200]}", kind="http_body") from None
    return {"json": None, "text": response.text}


@step(
    "http.request",
    params=RequestParams,
    output="{status, reason, url, headers, json, text}: `json` when the answer is JSON, else `text`.",
)
async def request(params: RequestParams) -> dict[str, Any]:
    """Send an HTTP request and return the answer.

    JSON, form, multipart (files) or raw bodies; query params and headers; auth from a
    credential by name (basic, bearer, API key, OAuth 2.0 client credentials); retries with
    backoff on 408/429/5xx and lost connections for idempotent methods (honouring
    `Retry-After`). A status other than 2xx or `accept_status` fails the step with the status
    and the start of the body.

    Example node:
        {"id": "create", "type": "http.request", "params": {"method": "POST",
         "url": "https://api.example.com/orders", "json_body": {"sku": "A-1", "qty": 2},
         "auth": {"kind": "bearer", "credential": "shop_api"}}}
    """
    response = await send(params)
    try:
        with map_httpx_errors(params.method, params.url):
            await response.aread()
    finally:
        await response.aclose()
    headers = _headers(response)
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "url": safe_url(response.url),
        "headers": headers,
        **_decode(response, headers, params.response, params.method),
    }


def _target(path: str, overwrite: bool) -> Path:
    """Where a download to a local file goes (its folder created)."""
    target = Path(path.removeprefix("file://")).expanduser()
    if target.exists() and not overwrite:
        raise BusinessError(f"{target} already exists (set overwrite to replace it)", kind="validation")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


@step("http.download", params=DownloadParams, output="{path, size, sha256, status, content_type}.")
async def download(params: DownloadParams) -> dict[str, Any]:
    """Stream an HTTP answer's body to a file or a storage URL, never holding it in memory.

    The body goes to `<path>.part` and is renamed when complete, so a failed download leaves
    no half file under the final name. To a storage URL (`s3://`, `sftp://`...,
    `storage_credential` naming its credential) the body is streamed to a temporary file, then
    uploaded the same whole-or-nothing way. Retries, auth and TLS as `http.request`.

    Example node:
        {"id": "get_report", "type": "http.download", "params": {"url": "https://example.com/r.pdf",
         "path": "s3://reports/{{ execution.id }}/report.pdf", "storage_credential": "s3-prod"}}
    """
    if is_url(params.path):
        result = await _download_to_storage(params)
    else:
        result = await _fetch(params, _target(params.path, params.overwrite))
    context().log(f"downloaded {result['size']} bytes from {safe_url(params.url)} to {result['path']}")
    return result


async def _download_to_storage(params: DownloadParams) -> dict[str, Any]:
    url, credential = params.path, params.storage_credential
    where = display(url)
    if not params.overwrite and await asyncio.to_thread(exists, url, credential):
        raise BusinessError(f"{where} already exists (set overwrite to replace it)", kind="validation")
    folder = Path(tempfile.mkdtemp(prefix="rpa-download-"))
    try:
        result = await _fetch(params, folder / "body")
        await asyncio.to_thread(store_file, folder / "body", url, credential)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {**result, "path": where}


async def _fetch(params: DownloadParams, target: Path) -> dict[str, Any]:
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    size = 0
    ctx = context()
    response = await send(params)
    try:
        with map_httpx_errors(params.method, params.url), partial.open("wb") as handle:
            # Chunks of 64 KiB land in the page cache in microseconds: written on the loop.
            async for chunk in response.aiter_bytes(CHUNK):
                ctx.raise_if_cancelled()
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        await response.aclose()
    return {
        "path": str(target),
        "size": size,
        "sha256": digest.hexdigest(),
        "status": response.status_code,
        "content_type": response.headers.get("content-type"),
    }


def _rows(body: Any, items: str, where: str) -> list[dict[str, Any]]:
    found = jmespath.search(items, body) if items else body
    if found is None:
        return []
    if not isinstance(found, list):
        raise BusinessError(f"{where}: '{items or '@'}' is not a list in the answer", kind="http_body")
    return [row if isinstance(row, dict) else {"value": row} for row in found]


def _next(
    params: PaginateParams, response: Any, body: Any, rows: list[Any], page: int
) -> tuple[str, dict[str, Any]] | None:
    """The URL and query of the page after this one, or None at the end."""
    query = dict(params.query)
    if params.mode == "next_link":
        link = jmespath.search(params.next_field, body)
        return (str(response.url.join(str(link))), {}) if link else None
    if params.mode == "link_header":
        nxt = response.links.get("next", {}).get("url")
        return (str(response.url.join(nxt)), {}) if nxt else None
    if params.mode == "cursor":
        cursor = jmespath.search(params.cursor_field, body)
        if cursor in (None, ""):
            return None
        return params.url, {**query, params.cursor_param: cursor}
    if not rows:
        return None
    return params.url, {**query, params.page_param: page + 1}


@step("http.paginate", params=PaginateParams, output="A table: the rows of every page, in order.")
async def paginate(params: PaginateParams) -> list[dict[str, Any]]:
    """Follow a paginated JSON API to the end and collect its rows into one table.

    `mode`: `next_link` (a URL in the body at `next_field`), `link_header` (`Link: <...>;
    rel="next"`), `cursor` (`cursor_field` sent back as `cursor_param`) or `page` (`page_param`
    counted from `first_page` until a page has no rows). More than `max_pages` pages is an
    error rather than a silently cut table.

    Example node:
        {"id": "customers", "type": "http.paginate", "params": {"url": "https://api.example.com/customers",
         "mode": "cursor", "items": "data", "cursor_field": "meta.next", "cursor_param": "after"}}
    """
    ctx = context()
    table: list[dict[str, Any]] = []
    url, query = params.url, dict(params.query)
    page = params.first_page
    if params.mode == "page":
        query[params.page_param] = page
    for count in range(1, params.max_pages + 1):
        ctx.raise_if_cancelled()
        current = params.model_copy(update={"url": url, "query": query})
        response = await send(current)
        try:
            with map_httpx_errors(params.method, url):
                await response.aread()
        finally:
            await response.aclose()
        where = f"page {count} of {safe_url(url)}"
        try:
            body = response.json()
        except ValueError:
            raise BusinessError(f"{where} is not JSON", kind="http_body") from None
        rows = _rows(body, params.items, where)
        table.extend(rows)
        following = _next(params, response, body, rows, page)
        if following is None:
            return table
        url, query = following
        page += 1
    raise StepError(
        f"{safe_url(params.url)} has more than max_pages={params.max_pages} pages ({len(table)} rows so far)",
        kind="pagination",
        retryable=False,
        details={"rows": len(table)},
    )


HTTP_STEPS = (request, download, paginate)
