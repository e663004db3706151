"""The two ends of one agent ⇄ orchestrator connection, as sans-IO state machines.

Neither end touches a socket: a driver feeds each received frame to `receive()`, which decodes
it, checks that it is allowed now and returns the message; it sends what `encode()` makes of the
messages the end builds (`hello()`, `welcome()`, `refuse()`) or the driver builds itself. So the
same logic runs over a WebSocket, or in memory in a test.

    server:  AWAITING_HELLO ──hello──▶ READY ──close()──▶ CLOSED
    agent:   CONNECTING ──hello()──▶ HELLO_SENT ──welcome──▶ READY ──close()──▶ CLOSED

A refused message raises a `ProtocolError` and changes nothing; the driver normally answers with
`refuse(error)` (server) and closes the socket with `error.close_code`. Calling a method in the
wrong state is a bug of the driver, not of the peer, and raises `RuntimeError`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from shared.protocol._errors import NotYours, ProtocolError, UnexpectedMessage, UnsupportedVersion
from shared.protocol._messages import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    AgentMessage,
    ErrorMessage,
    ExecutionReport,
    HeartbeatAck,
    Hello,
    JobAccepted,
    JobFinished,
    JobRejected,
    JournalBatch,
    Reclaimed,
    RunningJob,
    ServerMessage,
    SessionCheckpoint,
    Welcome,
    decode_agent_message,
    decode_server_message,
)


class ServerState(enum.Enum):
    """Where the orchestrator's end of a connection is."""

    AWAITING_HELLO = "awaiting_hello"
    READY = "ready"
    CLOSED = "closed"


class AgentState(enum.Enum):
    """Where the agent's end of a connection is."""

    CONNECTING = "connecting"
    HELLO_SENT = "hello_sent"
    READY = "ready"
    CLOSED = "closed"


class ServerConnection:
    """The orchestrator's end of one agent connection.

    Args:
        agent_id: the authenticated agent this socket belongs to.
        heartbeat_interval_s: how often the agent must heartbeat (sent in `welcome`).
        max_bytes: frames above this size are refused before parsing.
        lease_s: how long a silent agent keeps its executions, sent in `welcome` and every
            `heartbeat.ack` to an agent of version 3 or later (None: not sent).
    """

    def __init__(
        self,
        agent_id: str,
        heartbeat_interval_s: float,
        *,
        max_bytes: int = MAX_FRAME_BYTES,
        lease_s: float | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.heartbeat_interval_s = heartbeat_interval_s
        self.lease_s = lease_s
        self.max_bytes = max_bytes
        self.state = ServerState.AWAITING_HELLO
        self.hello: Hello | None = None
        self._assigned: dict[str, int] = {}

    def receive(self, raw: str | bytes) -> AgentMessage:
        """Decode one frame from the agent and check it is allowed now.

        Args:
            raw: the frame as received.

        Returns:
            The message. After the first `hello` the state is `READY`.

        Raises:
            ProtocolError: the frame is malformed or too large, not allowed in this state
                (`unexpected`), asks for an unsupported version, or is about an execution this
                connection does not hold (`not_yours`).
        """
        if self.state is ServerState.CLOSED:
            raise UnexpectedMessage(_type_of(raw, decode_agent_message), "nothing: the connection is closed")
        message = decode_agent_message(raw, max_bytes=self.max_bytes)
        if self.state is ServerState.AWAITING_HELLO:
            if not isinstance(message, Hello):
                raise UnexpectedMessage(message.type, "'hello' first")
            if message.protocol_version not in SUPPORTED_VERSIONS:
                raise UnsupportedVersion(message.protocol_version, SUPPORTED_VERSIONS)
            self.hello = message
            self.state = ServerState.READY
            return message
        if isinstance(message, Hello):
            raise UnexpectedMessage("hello", "any message but a second 'hello'")
        if isinstance(message, ExecutionReport) and self.protocol_version < 5:
            raise UnexpectedMessage(message.type, f"no 'execution.report' in protocol {self.protocol_version}")
        if (
            isinstance(message, JournalBatch | JobFinished | JobAccepted | JobRejected | SessionCheckpoint)
            and self._assigned.get(message.execution_id) != message.attempt
        ):
            raise NotYours(message.execution_id, message.attempt)
        return message

    @property
    def protocol_version(self) -> int:
        """The version this connection speaks: the agent's, from its `hello`."""
        if self.hello is None:
            raise RuntimeError("no hello received yet")
        return self.hello.protocol_version

    def welcome(self, stop: list[str] | None = None, reclaimed: list[Reclaimed] | None = None) -> Welcome:
        """Build the reply to the agent's `hello`, in the agent's protocol version.

        Args:
            stop: executions from `hello.running` that moved or ended; the agent stops them.
            reclaimed: executions from `hello.running` the agent goes on with under a new
                attempt (version 2 only; `assign()` them too, as kept ones are).

        Returns:
            The `welcome` message to send.
        """
        if self.state is not ServerState.READY:
            raise RuntimeError(f"welcome() needs a received hello; the connection is {self.state.value}")
        if reclaimed and self.protocol_version < 2:
            raise ValueError(f"a version-{self.protocol_version} agent cannot be told to go on under a new attempt")
        return Welcome(
            protocol_version=self.protocol_version,
            agent_id=self.agent_id,
            heartbeat_interval_s=self.heartbeat_interval_s,
            server_time=time.time(),
            stop=list(stop or []),
            reclaimed=list(reclaimed or []),
            lease_s=self._lease(),
        )

    def heartbeat_ack(self, ref: str) -> HeartbeatAck:
        """The answer to the agent's heartbeat `ref`, with its renewed lease (version 3).

        Args:
            ref: the heartbeat's id.

        Returns:
            The `heartbeat.ack` message to send.
        """
        return HeartbeatAck(ref=ref, server_time=time.time(), lease_s=self._lease())

    def _lease(self) -> float | None:
        return self.lease_s if self.lease_s and self.hello is not None and self.protocol_version >= 3 else None

    def assign(self, execution_id: str, attempt: int) -> None:
        """Record that this connection now holds `attempt` of an execution (sent or kept)."""
        if self.state is not ServerState.READY:
            raise RuntimeError(f"assign() needs a ready connection; it is {self.state.value}")
        self._assigned[execution_id] = attempt

    def release(self, execution_id: str) -> None:
        """Forget an execution: it finished, was rejected, or moved elsewhere."""
        self._assigned.pop(execution_id, None)

    @property
    def assigned(self) -> Mapping[str, int]:
        """The executions this connection holds: execution id → attempt (read-only)."""
        return MappingProxyType(self._assigned)

    def refuse(self, error: ProtocolError) -> ErrorMessage:
        """Build the `error` message for a refused frame and close; then close the socket with
        `error.close_code`."""
        self.close()
        return ErrorMessage(code=error.code, message=error.message)

    def close(self) -> None:
        """End the connection; any later frame is refused."""
        self.state = ServerState.CLOSED


class AgentConnection:
    """The agent's end of one connection; make a new one for each socket.

    Args:
        name: the agent's display name.
        version: the agent software version.
        capabilities: what the host offers (`browser`, `desktop`, ...).
        labels: free labels the orchestrator can route on.
        max_jobs: how many executions the agent runs at once.
        steps: the step type names the agent can run.
        max_bytes: frames above this size are refused before parsing.
        protocol_version: the version to speak (an older one, to an orchestrator that refused
            the newest).
    """

    def __init__(
        self,
        name: str,
        version: str,
        capabilities: list[str],
        labels: list[str],
        max_jobs: int,
        steps: list[str],
        *,
        max_bytes: int = MAX_FRAME_BYTES,
        protocol_version: int = PROTOCOL_VERSION,
    ) -> None:
        if protocol_version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"protocol version {protocol_version} is not one this agent speaks "
                f"({', '.join(map(str, sorted(SUPPORTED_VERSIONS)))})"
            )
        self.protocol_version = protocol_version
        self.name = name
        self.version = version
        self.capabilities = list(capabilities)
        self.labels = list(labels)
        self.max_jobs = max_jobs
        self.steps = list(steps)
        self.max_bytes = max_bytes
        self.state = AgentState.CONNECTING
        self._welcome: Welcome | None = None

    def hello(self, running: list[RunningJob] | None = None) -> Hello:
        """Build the first message of the connection.

        Args:
            running: the executions still held locally, with the last seq journaled for each.

        Returns:
            The `hello` message to send; the state is then `HELLO_SENT`.
        """
        if self.state is not AgentState.CONNECTING:
            raise RuntimeError(f"hello() is sent once, first; the connection is {self.state.value}")
        message = Hello(
            protocol_version=self.protocol_version,
            name=self.name,
            version=self.version,
            capabilities=self.capabilities,
            labels=self.labels,
            max_jobs=self.max_jobs,
            steps=self.steps,
            running=list(running or []),
        )
        self.state = AgentState.HELLO_SENT
        return message

    def receive(self, raw: str | bytes) -> ServerMessage:
        """Decode one frame from the orchestrator and check it is allowed now.

        Args:
            raw: the frame as received.

        Returns:
            The message. An `error` is returned in any open state, for the driver to report.

        Raises:
            ProtocolError: the frame is malformed or too large, not allowed in this state, or the
                welcome names an unsupported version.
        """
        if self.state in (AgentState.CONNECTING, AgentState.CLOSED):
            expected = (
                "nothing before hello is sent"
                if self.state is AgentState.CONNECTING
                else "nothing: the connection is closed"
            )
            raise UnexpectedMessage(_type_of(raw, decode_server_message), expected)
        message = decode_server_message(raw, max_bytes=self.max_bytes)
        if isinstance(message, ErrorMessage):
            return message
        if self.state is AgentState.HELLO_SENT:
            if not isinstance(message, Welcome):
                raise UnexpectedMessage(message.type, "'welcome' first")
            if message.protocol_version not in SUPPORTED_VERSIONS:
                raise UnsupportedVersion(message.protocol_version, SUPPORTED_VERSIONS)
            self._welcome = message
            self.state = AgentState.READY
        elif isinstance(message, Welcome):
            raise UnexpectedMessage("welcome", "any message but a second 'welcome'")
        return message

    @property
    def agent_id(self) -> str:
        """The id the orchestrator knows this agent by (after `welcome`)."""
        return self._welcomed().agent_id

    @property
    def heartbeat_interval_s(self) -> float:
        """How often to send `heartbeat` (after `welcome`)."""
        return self._welcomed().heartbeat_interval_s

    @property
    def lease_s(self) -> float | None:
        """How long the orchestrator keeps this agent's executions without a heartbeat (after
        `welcome`; None from an orchestrator before version 3)."""
        return self._welcomed().lease_s

    def close(self) -> None:
        """End the connection; any later frame is refused."""
        self.state = AgentState.CLOSED

    def _welcomed(self) -> Welcome:
        if self._welcome is None:
            raise RuntimeError("no welcome received yet")
        return self._welcome


def _type_of(raw: str | bytes, decode: Callable[[str | bytes], AgentMessage | ServerMessage]) -> str:
    """The type of a frame refused whatever it is, to name it in the error."""
    try:
        return decode(raw).type
    except ProtocolError:
        return "undecodable"
