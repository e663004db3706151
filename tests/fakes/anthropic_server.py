"""A local stand-in for Anthropic's Messages API (`POST /v1/messages`) for tests and benchmarks.

The hosted API cannot be reached from CI, so this `ThreadingHTTPServer` on 127.0.0.1 speaks its
wire format: message JSON with `text` and `tool_use` content blocks, `usage` and `stop_reason`,
and errors as `{"type": "error", "error": {"type": ..., "message": ...}}` with the statuses the
SDK maps (401, 429 with `retry-after`, 529, 400). Each test scripts it with a queue of replies
(`push`) or a function of the request (`handler`), and reads what was sent (`requests`).

    with FakeAnthropic() as api:
        api.push(tool_use({"total": 12.5}), text("Invoice"))
        client = anthropic.Anthropic(api_key="k", base_url=api.url)
        ...
        assert api.requests[0].json["model"] == "claude-..."
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeAnthropic",
    "Reply",
    "Request",
    "error",
    "message",
    "text",
    "tool_use",
]

_ids = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer: a status, a JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any]

    @property
    def api_key(self) -> str | None:
        """The key the client sent (`x-api-key`, or a Bearer token)."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def text(self) -> str:
        """Every text of the request (system and messages) joined, to assert on prompts."""
        parts: list[str] = []
        system = self.json.get("system")
        if isinstance(system, str):
            parts.append(system)
        elif isinstance(system, list):
            parts.extend(str(b.get("text", "")) for b in system if isinstance(b, dict))
        for msg in self.json.get("messages", []):
            content = msg.get("content")
            if isinstance(content, str):
                parts.append(content)
                continue
            for block in content or []:
                if block.get("type") == "text":
                    parts.append(str(block.get("text", "")))
                elif block.get("type") == "tool_result":
                    inner = block.get("content")
                    parts.append(inner if isinstance(inner, str) else json.dumps(inner))
        return "\n".join(parts)


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-sonnet-4-5",
    input_tokens: int = 10,
    output_tokens: int = 5,
) -> Reply:
    """A successful Messages-API reply with the given content blocks."""
    return Reply(
        200,
        {
            "id": f"msg_fake_{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        },
    )


def text(value: str, **kwargs: Any) -> Reply:
    """A reply with one text block (`stop_reason` end_turn unless given)."""
    return message([{"type": "text", "text": value}], **kwargs)


def tool_use(data: dict[str, Any], *, name: str = "record", **kwargs: Any) -> Reply:
    """A reply calling tool `name` with `data` as its input (`stop_reason` tool_use)."""
    kwargs.setdefault("stop_reason", "tool_use")
    block = {"type": "tool_use", "id": f"toolu_fake_{next(_ids)}", "name": name, "input": data}
    return message([block], **kwargs)


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error(status: int, msg: str = "", *, retry_after: float | None = None) -> Reply:
    """An error reply in Anthropic's format (`retry-after` header for 429 when given)."""
    kind = _ERROR_TYPES.get(status, "api_error")
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    body = {"type": "error", "error": {"type": kind, "message": msg or kind}}
    return Reply(status, body, headers)


Handler = Callable[[Request], Reply]


class FakeAnthropic:
    """The Messages API on 127.0.0.1, on a free port; start/stop it or use it as a context manager.

    Replies come from the queue (`push`) first, then from `handler` (a function of the request);
    with neither, a text reply "ok". Requests whose key is not in `keys` (when set) get a 401.
    `port` 0 (the default) takes a free one.
    """

    def __init__(self, handler: Handler | None = None, *, keys: set[str] | None = None, port: int = 0) -> None:
        self.handler = handler
        self.keys = keys
        self.port = port
        self.requests: list[Request] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the SDK (`base_url=` / `ANTHROPIC_BASE_URL`)."""
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def push(self, *replies: Reply) -> None:
        """Queue replies, served in order before `handler`."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests (keeps `handler` and `keys`)."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def start(self) -> FakeAnthropic:
        """Bind a free loopback port and serve in a daemon thread."""
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, a keep-alive client
            # waits ~40 ms for the delayed ACK on each answer.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                req = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self._send(fake._answer(req))

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_fake_{next(_ids)}")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            if req.path.split("?")[0] != "/v1/messages":
                return error(404, f"no route {req.path}")
            if self.keys is not None and req.api_key not in self.keys:
                return error(401, "invalid x-api-key")
            if self._queue:
                return self._queue.popleft()
        if self.handler is not None:
            return self.handler(req)
        return text("ok")
