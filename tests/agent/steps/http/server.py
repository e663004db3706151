"""A real HTTP server on loopback for the `http.*` tests: Starlette under uvicorn in a thread.

Endpoints for each auth kind, 429 with `Retry-After`, 503 then 200, slow answers, three
pagination styles, downloads and a multipart echo. `hits` records when each path was asked,
so a test can check what the client really sent (and how long it waited between tries).
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import socket
import threading
import time
from collections import defaultdict
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

USER, PASSWORD, TOKEN, API_KEY = "robot", "pa55-Secret-word", "bearer-Secret-42", "key-Secret-99"
CLIENT_ID, CLIENT_SECRET = "client-7", "client-Secret-77"
ROWS = [{"id": i, "name": f"row {i}"} for i in range(1, 8)]
PAGE_SIZE = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename:
            files[str(name)] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(payload),
                "text": payload.decode("utf-8", "replace"),
            }
        else:
            fields[str(name)] = payload.decode()
    return {"form": fields, "files": files}


class LoopbackSite:
    """Start with `start()`; `url` is its base; `hits[path]` lists the monotonic times of calls."""

    def __init__(self, *, ssl_options: dict[str, Any] | None = None) -> None:
        self.port = free_port()
        self.scheme = "https" if ssl_options else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.hits: dict[str, list[float]] = defaultdict(list)
        self.seen: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.tokens_issued = 0
        self.bearer_token = TOKEN
        self._valid_tokens: set[str] = set()
        self._app = Starlette(routes=self._routes())
        config = uvicorn.Config(
            self._record,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            **(ssl_options or {}),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    async def _record(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.hits[scope["path"]].append(time.monotonic())
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.seen[scope["path"]].append({"headers": headers, "query": scope["query_string"].decode()})
        await self._app(scope, receive, send)

    def _routes(self) -> list[Route]:
        return [
            Route("/echo", self.echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/basic", self.basic),
            Route("/bearer", self.bearer),
            Route("/apikey", self.apikey),
            Route("/oauth/token", self.oauth_token, methods=["POST"]),
            Route("/oauth/resource", self.oauth_resource),
            Route("/oauth/revoke", self.oauth_revoke, methods=["POST"]),
            Route("/flaky/{name}", self.flaky, methods=["GET", "POST"]),
            Route("/limited/{name}", self.limited),
            Route("/slow", self.slow),
            Route("/status/{code:int}", self.status),
            Route("/pages/next", self.pages_next),
            Route("/pages/link", self.pages_link),
            Route("/pages/cursor", self.pages_cursor),
            Route("/pages/number", self.pages_number),
            Route("/download", self.download),
            Route("/client-cert", self.client_cert),
            Route("/typed", self.typed),
        ]

    async def typed(self, request: Request) -> Response:
        """`{"ok": true}` as the `type` query asks, with a header sent twice (`X-Tag: a`, `X-Tag: b`)."""
        response = Response(b'{"ok": true}', media_type=None)
        response.raw_headers.extend(
            [(b"content-type", request.query_params["type"].encode()), (b"X-Tag", b"a"), (b"X-Tag", b"b")]
        )
        return response

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        kind = request.headers.get("content-type", "")
        out: dict[str, Any] = {
            "method": request.method,
            "query": [[k, v] for k, v in request.query_params.multi_items()],
            "headers": dict(request.headers),
        }
        if kind.startswith("application/json"):
            out["json"] = await request.json()
        elif kind.startswith("multipart/form-data"):
            out.update(_multipart(kind, body))
        elif kind.startswith("application/x-www-form-urlencoded"):
            out["form"] = dict(parse_qsl(body.decode()))
        else:
            out["text"] = body.decode()
        response = JSONResponse(out)
        if "cookie" in request.query_params:
            response.set_cookie("session", request.query_params["cookie"])
        return response

    async def basic(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return PlainTextResponse("who are you?", 401, headers={"WWW-Authenticate": "Basic"})
        return JSONResponse({"user": USER})

    async def bearer(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.bearer_token}":
            return PlainTextResponse("bad token", 401)
        return JSONResponse({"ok": True})

    async def apikey(self, request: Request) -> Response:
        if API_KEY not in (request.headers.get("x-api-key"), request.query_params.get("api_key")):
            return PlainTextResponse("bad key", 403)
        return JSONResponse({"ok": True})

    async def oauth_token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            form["client_id"], _, form["client_secret"] = base64.b64decode(basic[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials" or (form.get("client_id"), form.get("client_secret")) != (
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            return JSONResponse({"error": "invalid_client"}, 401)
        self.tokens_issued += 1
        token = f"issued-{self.tokens_issued}"
        self._valid_tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope")}
        )

    async def oauth_resource(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self._valid_tokens:
            return PlainTextResponse("expired", 401)
        return JSONResponse({"token": token})

    async def oauth_revoke(self, request: Request) -> Response:
        self._valid_tokens.clear()
        return JSONResponse({})

    async def flaky(self, request: Request) -> Response:
        fails = int(request.query_params.get("fails", "2"))
        if len(self.hits[request.url.path]) <= fails:
            return PlainTextResponse("busy", 503)
        return JSONResponse({"tries": len(self.hits[request.url.path])})

    async def limited(self, request: Request) -> Response:
        if len(self.hits[request.url.path]) == 1:
            style = request.query_params.get("style", "seconds")
            seconds = request.query_params.get("after", "1")
            after = formatdate(time.time() + 2, usegmt=True) if style == "date" else seconds
            return PlainTextResponse("slow down", 429, headers={"Retry-After": after})
        return JSONResponse({"ok": True})

    async def slow(self, request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("delay", "5")))
        return JSONResponse({"ok": True})

    async def status(self, request: Request) -> Response:
        return PlainTextResponse("x" * 2000, request.path_params["code"])

    def _page(self, start: int) -> list[dict[str, Any]]:
        return ROWS[start : start + PAGE_SIZE]

    async def pages_next(self, request: Request) -> Response:
        start = int(request.query_params.get("start", "0"))
        nxt = f"/pages/next?start={start + PAGE_SIZE}" if start + PAGE_SIZE < len(ROWS) else None
        return JSONResponse({"data": self._page(start), "links": {"next": nxt}})

    async def pages_link(self, request: Request) -> Response:
        start = int(request.query_params.get("start", "0"))
        headers = {}
        if start + PAGE_SIZE < len(ROWS):
            headers["Link"] = f'<{self.url}/pages/link?start={start + PAGE_SIZE}>; rel="next"'
        return JSONResponse(self._page(start), headers=headers)

    async def pages_cursor(self, request: Request) -> Response:
        start = int(request.query_params.get("after", "0"))
        more = start + PAGE_SIZE < len(ROWS)
        return JSONResponse({"items": self._page(start), "meta": {"next": str(start + PAGE_SIZE) if more else None}})

    async def pages_number(self, request: Request) -> Response:
        page = int(request.query_params.get("p", "1"))
        return JSONResponse({"results": self._page((page - 1) * PAGE_SIZE)})

    async def download(self, request: Request) -> Response:
        size = int(request.query_params.get("size", "1000"))

        async def chunks() -> Any:
            sent = 0
            while sent < size:
                n = min(65536, size - sent)
                yield bytes((sent + i) % 251 for i in range(n))
                sent += n

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def client_cert(self, request: Request) -> Response:
        return JSONResponse({"ok": True})


def expected_download(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))
