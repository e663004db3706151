"""How the agent's runtime reaches the orchestrator: a small transport interface, its WebSocket
implementation, and an in-memory pair for tests and embedders.

The runtime only sends and receives text frames; everything the socket library can raise is
translated here, at one boundary, into `TransportClosed`. So the connection logic above it runs
the same over a real WebSocket or over `memory_pair()` against `shared.protocol.ServerConnection`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from shared.protocol import MAX_FRAME_BYTES

OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
"""A close handshake with an orchestrator that stopped answering is not waited for longer."""


class TransportClosed(Exception):
    """The connection is gone (or could not be opened).

    Attributes:
        clean: the peer closed it in an orderly way (a close frame), rather than the network
            failing or the connection being refused.
        retry_after_s: the orchestrator refused the connection as busy (HTTP 503) and said when
            to try again (`Retry-After`, in seconds); None otherwise.
    """

    def __init__(self, reason: str, *, clean: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.clean = clean
        self.retry_after_s = retry_after_s


class Transport(Protocol):
    """One open connection to the orchestrator, carrying text frames."""

    async def send(self, frame: str) -> None:
        """Send one frame.

        Raises:
            TransportClosed: the connection is gone.
        """
        ...

    async def recv(self) -> str | bytes:
        """The next frame from the orchestrator.

        Raises:
            TransportClosed: the connection is gone (`clean` when the peer closed it).
        """
        ...


Connector = Callable[[], AbstractAsyncContextManager[Transport]]
"""Opens one connection per call; leaving the context closes it."""


class _WebSocketTransport:
    def __init__(self, ws: object) -> None:
        self._ws = ws

    async def send(self, frame: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(frame)  # type: ignore[attr-defined]
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def recv(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            frame: str | bytes = await self._ws.recv()  # type: ignore[attr-defined]
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        return frame


def _closed(exc: Exception) -> TransportClosed:
    from websockets.exceptions import ConnectionClosedOK

    return TransportClosed(type(exc).__name__, clean=isinstance(exc, ConnectionClosedOK))


def websocket_connector(url: str, key: Callable[[], str]) -> Connector:
    """Connect to `<url>/api/v1/agents/connect` with the agent key `key()` read at each attempt.

    Args:
        url: the orchestrator's base URL (`http(s)://` or `ws(s)://`).
        key: returns the agent key to send (read again before each connection).

    Returns:
        A connector; a refused or failed connection raises `TransportClosed`.
    """
    base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[Transport]:
        from websockets.asyncio.client import connect as ws_connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        try:
            async with ws_connect(
                f"{base}/api/v1/agents/connect",
                max_size=MAX_FRAME_BYTES,  # the one frame limit both sides keep
                additional_headers={"Authorization": f"Bearer {key()}"},
                open_timeout=OPEN_TIMEOUT_S,
                close_timeout=CLOSE_TIMEOUT_S,
                ping_interval=None,
            ) as ws:
                yield _WebSocketTransport(ws)
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        except InvalidStatus as exc:
            raise _refused(exc.response.status_code, exc.response.headers.get("Retry-After")) from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise TransportClosed(type(exc).__name__) from None

    return connect


def _refused(status: int, retry_after: str | None) -> TransportClosed:
    """An upgrade answered with an HTTP status: a 503's `Retry-After` (whole seconds) is kept."""
    seconds: float | None = None
    if status == 503 and retry_after is not None and retry_after.strip().isdigit():
        seconds = float(retry_after.strip())
    return TransportClosed(f"HTTP {status}", retry_after_s=seconds)


class _Closed:
    def __init__(self, clean: bool) -> None:
        self.clean = clean


_Frame = str | bytes | _Closed


class MemoryTransport:
    """One end of an in-memory connection made by `memory_pair()`."""

    def __init__(self, inbox: asyncio.Queue[_Frame], outbox: asyncio.Queue[_Frame]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self.closed = False

    async def send(self, frame: str) -> None:
        if self.closed:
            raise TransportClosed("closed")
        await self._outbox.put(frame)

    async def recv(self) -> str | bytes:
        if self.closed:
            raise TransportClosed("closed")
        frame = await self._inbox.get()
        if isinstance(frame, _Closed):
            self.closed = True
            raise TransportClosed("closed by the peer" if frame.clean else "connection lost", clean=frame.clean)
        return frame

    def close(self, *, clean: bool = True) -> None:
        """Close both directions: the peer's next `recv` raises `TransportClosed` (`clean`: as after
        a close frame; otherwise as when the network fails)."""
        if not self.closed:
            self.closed = True
            self._outbox.put_nowait(_Closed(clean))
            self._inbox.put_nowait(_Closed(clean))


def memory_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory ends: (agent's end, orchestrator's end)."""
    to_server: asyncio.Queue[_Frame] = asyncio.Queue()
    to_agent: asyncio.Queue[_Frame] = asyncio.Queue()
    return MemoryTransport(to_agent, to_server), MemoryTransport(to_server, to_agent)
