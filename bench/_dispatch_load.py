"""The throughput scenario's load, kept cheap so that it measures the server and not itself.

On this 2-core machine the benchmark's process shares the cores with the server. With httpx
clients and every frame parsed into its pydantic model, the load generator took 0.8 of a core at
500 starts/s and was itself late by 100 ms at p99 sending them (2026-12-07, commit 04dca9a), which
counted in the dispatch latency it reported. So:

- `RawHttp`: one keep-alive HTTP/1.1 connection on an asyncio protocol. A start is a request made
  of bytes built once; the answer is read by its Content-Length. (Every answer the orchestrator
  sends has one.) A connection the server closed for being idle is opened again.
- `JobFrames`: the frames a simulated agent sends for one job, as JSON text made by `json.dumps`
  of plain dicts. `JobFrames.check()` parses each of them with `shared.protocol` first, so they are
  what the real protocol accepts; the server parses them as it parses any agent's.
- `server_frame`: the type of a frame from the server and the few fields the simulated agents use,
  read with `json.loads`. The first `job.assign` of a run is still parsed whole by the protocol
  (`SimAgent`), so a server sending a malformed one fails the run.

With both, the benchmark's process took 0.25 of a core at 500/s and sent each start at most
3.5 ms late (p99), on the same day and commit.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import shared.protocol as wire

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class _Connection(asyncio.Protocol):
    """One TCP connection of a `RawHttp`: the answer in progress, read by its Content-Length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        found = _LENGTH.search(head)
        length = int(found.group(1)) if found else 0
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.waiter.set_result((int(head[9:12]), body))


class RawHttp:
    """One HTTP/1.1 keep-alive client, one request in flight at a time.

    The server closes a connection that stayed idle for its keep-alive timeout (uvicorn: 5 s); the
    next request then opens a new one. A request whose connection closes before any byte of its
    answer arrived is sent once more on a new connection: the server closes only idle connections,
    so it never saw that request."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.connection: _Connection | None = None

    @classmethod
    async def open(cls, base_url: str) -> RawHttp:
        client = cls(base_url)
        await client._connect()
        return client

    async def _connect(self) -> _Connection:
        parts = urlsplit(self.base_url)
        _, self.connection = await asyncio.get_running_loop().create_connection(_Connection, parts.hostname, parts.port)
        return self.connection

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one whole request; (status, body) of its answer."""
        for last_try in (False, True):
            connection = self.connection
            if connection is None or connection.closed or connection.transport is None:
                connection = await self._connect()
            assert connection.transport is not None
            connection.waiter = asyncio.get_running_loop().create_future()
            connection.transport.write(data)
            try:
                return await connection.waiter
            except ConnectionError:
                if last_try or connection.buffer:
                    raise
            finally:
                connection.waiter = None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None and self.connection.transport is not None:
            self.connection.transport.close()


def post_request(base_url: str, path: str, body: Any, headers: dict[str, str]) -> bytes:
    """The bytes of a POST with a JSON body, made once and sent as often as needed."""
    parts = urlsplit(base_url)
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.hostname}:{parts.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def server_frame(raw: str | bytes) -> dict[str, Any]:
    """A server frame as a dict (its `type` says which message it is)."""
    value: dict[str, Any] = json.loads(raw)
    return value


class JobFrames:
    """What an agent sends for a one-step `core.noop` run, as the engine journals it."""

    @staticmethod
    def events(execution_id: str, now: float) -> list[dict[str, Any]]:
        return [
            {
                "seq": 1,
                "type": "execution.started",
                "path": "",
                "ts": now,
                "data": {"execution_id": execution_id, "flow": "Noop", "inputs": {}, "variables": {}},
            },
            {
                "seq": 2,
                "type": "node.started",
                "path": "noop",
                "ts": now,
                "data": {"attempt": 1, "type": "core.noop", "key": f"{execution_id}/noop"},
            },
            {"seq": 3, "type": "node.succeeded", "path": "noop", "ts": now, "data": {"output": None, "port": "out"}},
            {
                "seq": 4,
                "type": "execution.finished",
                "path": "",
                "ts": now,
                "data": {"status": "succeeded", "outputs": {}, "error": None},
            },
        ]

    @classmethod
    def make(cls, execution_id: str, attempt: int) -> tuple[str, str, str, int]:
        """(job.accepted, journal, job.finished) as JSON text, and the journal's last seq."""
        events = cls.events(execution_id, time.time())
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        accepted = dumps(
            {"type": "job.accepted", "id": uuid.uuid4().hex, "execution_id": execution_id, "attempt": attempt}
        )
        journal = dumps(
            {
                "type": "journal",
                "id": uuid.uuid4().hex,
                "execution_id": execution_id,
                "attempt": attempt,
                "events": events,
            }
        )
        finished = dumps(
            {
                "type": "job.finished",
                "id": uuid.uuid4().hex,
                "execution_id": execution_id,
                "attempt": attempt,
                "status": "succeeded",
                "outputs": {},
                "error": None,
                "last_seq": len(events),
            }
        )
        return accepted, journal, finished, len(events)

    @classmethod
    def check(cls) -> None:
        """Each frame parses as the protocol's own message of its type (raises if not)."""
        accepted, journal, finished, _ = cls.make(str(uuid.uuid4()), 1)
        for text, model in ((accepted, wire.JobAccepted), (journal, wire.JournalBatch), (finished, wire.JobFinished)):
            message = wire.decode_agent_message(text)
            if not isinstance(message, model):
                raise AssertionError(f"{text[:80]} parsed as {type(message).__name__}, not {model.__name__}")
