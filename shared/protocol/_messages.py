"""The messages of the agent ⇄ orchestrator protocol and their JSON codec.

Each direction is a pydantic discriminated union on `type`; every message has an `id`. Unknown
fields are refused, so a typo fails loudly instead of being dropped. `decode_*` raise only
`ProtocolError`: the size is checked before parsing, and a pydantic error becomes one
`malformed` sentence naming the JSON path (`events[3].seq`) and never quoting a value.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeAlias, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
)
from pydantic_core import from_json

from shared.engine import Event
from shared.protocol._errors import FrameTooLarge, MalformedMessage, UnknownMessageType, UnsupportedVersion
from shared.states import TerminalStatus

PROTOCOL_VERSION = 5
SUPPORTED_VERSIONS: frozenset[int] = frozenset({1, 2, 3, 4, 5})
"""Version 2 adds `welcome.reclaimed`; version 3 adds `welcome.lease_s`, `heartbeat.ack.lease_s` and
`heartbeat.unhealthy`; version 4 adds `session.checkpoint` and `job.assign.sessions`; version 5 adds
`execution.report` and its answer `execution.recorded` (attended runs the agent started itself). The
orchestrator answers a `hello` in the agent's version, and never sends a field to an agent of a
version before it (an agent refuses unknown fields); an agent sends a message only to an
orchestrator whose version has it."""
MAX_FRAME_BYTES = 4 * 1024 * 1024
"""The largest frame either side accepts (4 MiB), checked before parsing: the orchestrator's
default (`RPA_MAX_FRAME_BYTES`) and the number `docs/protocol.md` cites. A `job.assign` carries a
flow document (at most 2 MiB) and its sub-flows."""
AGENT_KEY_PREFIX = "rpa_ak_"
"""An agent's key is `rpa_ak_<agent id hex>_<secret>`: made by the orchestrator, kept by the agent."""

MAX_RUNNING = 1000
"""At most this many executions in `hello.running`, `heartbeat.running` and `welcome.stop`
(an agent runs at most `max_jobs` ≤ 1000)."""
MAX_STEPS = 5000
MAX_SESSIONS = 100
"""At most this many session checkpoints in one `job.assign`."""
SESSION_KEY = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
"""A resumable session's key: its family and name, e.g. `browser:main`."""
MAX_LABELS = 100
MAX_CAPABILITIES = 100

ExecutionId = Annotated[str, Field(min_length=1, max_length=200)]
Attempt = Annotated[int, Field(ge=1, le=2_147_483_647)]
Seq = Annotated[int, Field(ge=0, le=9_223_372_036_854_775_807)]
"""Bounded by their database columns: a larger number is malformed, not a database error."""
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""No control characters: these strings reach log lines and the UI."""
Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x20\x7f]+$")]
"""A step type or a capability: no spaces, no control characters."""
LABEL_PATTERN = r"^[\w.:=/+@-]{1,50}$"
Label = Annotated[str, Field(min_length=1, max_length=50, pattern=LABEL_PATTERN)]
"""As an enrolment's labels: letters, digits and `_ . : = / + @ -`."""


# hide_input_in_errors: a ValidationError must never quote a value (it may be a secret).
_WIRE = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, allow_inf_nan=False)


def _new_id() -> str:
    return uuid.uuid4().hex


class _Message(BaseModel):
    model_config = _WIRE

    id: str = Field(default_factory=_new_id, min_length=1, max_length=100)


class WireEvent(BaseModel):
    """A journal event on the wire (`shared.engine.Event`)."""

    model_config = _WIRE

    seq: int = Field(ge=1, le=9_223_372_036_854_775_807)
    type: str = Field(min_length=1, max_length=100)
    path: str = Field(max_length=2000)
    data: dict[str, Any]
    ts: float

    @classmethod
    def from_event(cls, event: Event) -> WireEvent:
        """The wire form of an engine event."""
        return cls(seq=event.seq, type=event.type, path=event.path, data=event.data, ts=event.ts)

    def to_event(self) -> Event:
        """The engine event this stands for."""
        return Event(self.seq, self.type, self.path, dict(self.data), self.ts)


class RunningJob(BaseModel):
    """An execution the agent still holds when it (re)connects."""

    model_config = _WIRE

    execution_id: ExecutionId
    attempt: Attempt
    last_seq: Seq
    """The highest seq in the agent's local journal for it."""


# --- agent → orchestrator -------------------------------------------------------------------


class Hello(_Message):
    """First message of a connection: who the agent is and what it still holds."""

    type: Literal["hello"] = "hello"
    protocol_version: int
    name: str = Field(min_length=1, max_length=200, pattern=_PRINTABLE)
    version: str = Field(max_length=50, pattern=_PRINTABLE)
    capabilities: list[Identifier] = Field(default_factory=list, max_length=MAX_CAPABILITIES)
    labels: list[Label] = Field(default_factory=list, max_length=MAX_LABELS)
    max_jobs: int = Field(ge=1, le=1000)
    steps: list[Identifier] = Field(default_factory=list, max_length=MAX_STEPS)
    running: list[RunningJob] = Field(default_factory=list, max_length=MAX_RUNNING)


class Heartbeat(_Message):
    """The agent is alive and runs these executions; renews their leases."""

    type: Literal["heartbeat"] = "heartbeat"
    running: list[ExecutionId] = Field(default_factory=list, max_length=MAX_RUNNING)
    sent_at: float
    unhealthy: str | None = Field(default=None, min_length=1, max_length=500)
    """Why the agent cannot take jobs now (e.g. its outbox cannot be written); the orchestrator
    gives it none until a heartbeat without it (version 3, left out when None)."""

    @model_serializer(mode="wrap")
    def _without_empty_unhealthy(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # An orchestrator before version 3 refuses unknown fields.
        data: dict[str, Any] = handler(self)
        if self.unhealthy is None:
            data.pop("unhealthy", None)
        return data


class JobAccepted(_Message):
    """The agent took an assigned execution and starts (or resumes) it."""

    type: Literal["job.accepted"] = "job.accepted"
    execution_id: ExecutionId
    attempt: Attempt


class JobRejected(_Message):
    """The agent cannot run an assigned execution (a missing step, no capacity)."""

    type: Literal["job.rejected"] = "job.rejected"
    execution_id: ExecutionId
    attempt: Attempt
    reason: str = Field(max_length=2000)


class JournalBatch(_Message):
    """Journal events of one execution attempt, in order; resent until acknowledged."""

    type: Literal["journal"] = "journal"
    execution_id: ExecutionId
    attempt: Attempt
    events: list[WireEvent] = Field(min_length=1, max_length=1000)

    @field_validator("events")
    @classmethod
    def _seqs_increase(cls, events: list[WireEvent]) -> list[WireEvent]:
        for index in range(1, len(events)):
            if events[index].seq <= events[index - 1].seq:
                raise ValueError(
                    f"seqs must increase strictly, but events[{index}].seq is "
                    f"{events[index].seq} after {events[index - 1].seq}"
                )
        return events


class LogLine(_Message):
    """A log line, of one execution or of the agent itself."""

    type: Literal["log"] = "log"
    execution_id: ExecutionId | None = None
    level: Literal["debug", "info", "warning", "error"]
    message: str = Field(max_length=10_000)


class JobFinished(_Message):
    """An execution attempt ended on the agent."""

    type: Literal["job.finished"] = "job.finished"
    execution_id: ExecutionId
    attempt: Attempt
    status: TerminalStatus
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None
    last_seq: Seq


class SessionCheckpoint(_Message):
    """The state a resumable session (a browser's cookies, storage and tabs) had after a step
    (version 4). Sent before the journal batch that reports the step, so the orchestrator holds
    the state of every step its journal shows done; it keeps the latest per session, sealed, until
    the execution ends, and hands it back in `job.assign.sessions` to whichever agent resumes the
    execution. `state` None: the session closed, forget it. `repr()` hides the state."""

    type: Literal["session.checkpoint"] = "session.checkpoint"
    execution_id: ExecutionId
    attempt: Attempt
    session: SESSION_KEY
    state: dict[str, Any] | None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield (name, "***" if value is not None else None) if name == "state" else (name, value)


ATTENDED_TRIGGERS: frozenset[str] = frozenset({"hotkey", "tray"})
"""How a person on the agent's machine starts a run (`execution.report.trigger.type`)."""


class ExecutionReport(_Message):
    """An execution this agent created itself: an attended run started on its machine (a hotkey,
    the tray's menu), perhaps while the orchestrator was unreachable (version 5).

    Sent from the outbox before any journal event of the execution; the agent sends its journal
    only once `execution.recorded` accepted it. The same report again (a reconnect) is recorded
    once."""

    type: Literal["execution.report"] = "execution.report"
    execution_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    """A UUID the agent generated (canonical text form)."""
    workflow_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    version: int = Field(ge=1, le=2_147_483_647)
    """The published version number the agent had cached and ran."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    trigger: dict[str, Any]
    """`{"type": "hotkey" | "tray", ...}` (e.g. `"hotkey": "Ctrl+Alt+F5"`)."""
    user_id: str | None = Field(default=None, max_length=100)
    """The user signed in to the tray, who must be allowed to start the workflow."""
    started_at: float

    @field_validator("trigger")
    @classmethod
    def _attended_trigger(cls, trigger: dict[str, Any]) -> dict[str, Any]:
        if trigger.get("type") not in ATTENDED_TRIGGERS:
            raise ValueError(f"type must be one of {', '.join(sorted(ATTENDED_TRIGGERS))}")
        return trigger


# --- orchestrator → agent -------------------------------------------------------------------


class Reclaimed(BaseModel):
    """An execution the agent reported in `hello.running` that was requeued while it was away, and
    that no other agent took: it is this agent's again, under a new attempt."""

    model_config = _WIRE

    execution_id: ExecutionId
    attempt: Attempt
    """The attempt to go on under: every later message about the execution carries it."""


class Welcome(_Message):
    """The reply to `hello`: the agent's id, its heartbeat rhythm, what to stop and what it keeps
    under a new attempt."""

    type: Literal["welcome"] = "welcome"
    protocol_version: int
    agent_id: str = Field(min_length=1)
    heartbeat_interval_s: float = Field(gt=0)
    server_time: float
    stop: list[str] = Field(default_factory=list)
    """Executions from `hello.running` that moved or ended: stop them, do not end them."""
    reclaimed: list[Reclaimed] = Field(default_factory=list)
    """Executions from `hello.running` to go on with, each under its new attempt (version 2)."""
    lease_s: float | None = Field(default=None, gt=0)
    """The agent's lease (version 3): how long the orchestrator waits for a silent or gone agent
    before it requeues that agent's executions, counted from the last heartbeat it received (it
    waits a margin more, so none goes to another agent sooner). An agent with no acknowledgement
    for this long starts no more steps (it fences itself). Left out when None."""

    @model_serializer(mode="wrap")
    def _without_empty_fields(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # An agent refuses unknown fields: one of an older version is never sent these.
        data: dict[str, Any] = handler(self)
        if not self.reclaimed:
            data.pop("reclaimed", None)
        if self.lease_s is None:
            data.pop("lease_s", None)
        return data


class HeartbeatAck(_Message):
    """The answer to one heartbeat."""

    type: Literal["heartbeat.ack"] = "heartbeat.ack"
    ref: str
    server_time: float
    lease_s: float | None = Field(default=None, gt=0)
    """The agent's lease, renewed (version 3; see `Welcome.lease_s`). Left out when None."""

    @model_serializer(mode="wrap")
    def _without_lease(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.lease_s is None:
            data.pop("lease_s", None)
        return data


class FlowAsset(BaseModel):
    """A file the flow names relative to its folder, published with its version: the agent fetches
    the content by hash (`GET /api/v1/agents/me/assets/<execution>/<sha256>`) and checks it."""

    model_config = _WIRE

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class JobAssign(_Message):
    """Run (or resume) an execution. `repr()` masks the secret values; `encode()` carries them."""

    type: Literal["job.assign"] = "job.assign"
    execution_id: ExecutionId
    attempt: Attempt
    flow: dict[str, Any]
    subflows: dict[str, dict[str, Any]] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    journal: list[WireEvent] = Field(default_factory=list)
    secrets: dict[str, str] = Field(default_factory=dict)
    deadline_at: float | None = None
    priority: int = 0
    sessions: dict[SESSION_KEY, dict[str, Any]] = Field(default_factory=dict, max_length=MAX_SESSIONS)
    """The last checkpoint of each session the execution had open, for a resume (version 4; left
    out when empty). Secret like `secrets`: never stored by the agent, masked in `repr()`."""
    assets: dict[str, FlowAsset] = Field(default_factory=dict)
    """The version's assets by relative path; laid out as the run's `flow_dir` before it starts."""
    subflow_assets: dict[str, dict[str, FlowAsset]] = Field(default_factory=dict)
    """The assets of the `subflows` that have some: sub-flow name -> relative path -> content. Each
    sub-flow's are laid out in a folder of its own, the `flow_dir` of its steps (left out when empty)."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield (name, dict.fromkeys(value, "***")) if name in ("secrets", "sessions") else (name, value)

    @model_serializer(mode="wrap")
    def _without_empty_additions(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # An agent before version 4 refuses unknown fields: it is never sent these when empty.
        data: dict[str, Any] = handler(self)
        for name in ("sessions", "assets", "subflow_assets"):
            if not data.get(name):
                data.pop(name, None)
        return data


class JobCancel(_Message):
    """End an execution as cancelled (`force`: do not wait for the current step)."""

    type: Literal["job.cancel"] = "job.cancel"
    execution_id: ExecutionId
    force: bool = False
    reason: str = ""


class JobStop(_Message):
    """Stop running an execution WITHOUT ending it: it belongs to another agent now."""

    type: Literal["job.stop"] = "job.stop"
    execution_id: ExecutionId
    reason: str = "moved"


class JournalAck(_Message):
    """Events of an execution are stored up to a seq; the agent may drop them."""

    type: Literal["journal.ack"] = "journal.ack"
    execution_id: ExecutionId
    seq: Seq
    """Every event with a seq up to this one is stored."""


class ExecutionRecorded(_Message):
    """The answer to `execution.report` (version 5): `accepted` (recorded now or before), and the
    agent sends the execution's journal; or refused with the reason (another agent's id, a
    workflow or version the agent's organisation does not have, a user who may not start it)."""

    type: Literal["execution.recorded"] = "execution.recorded"
    execution_id: ExecutionId
    accepted: bool
    reason: str = Field(default="", max_length=2000)


class ErrorMessage(_Message):
    """Sent just before the server closes the connection, with the reason."""

    type: Literal["error"] = "error"
    code: str
    message: str


AgentMessage: TypeAlias = Annotated[
    Hello
    | Heartbeat
    | JobAccepted
    | JobRejected
    | JournalBatch
    | LogLine
    | JobFinished
    | SessionCheckpoint
    | ExecutionReport,
    Field(discriminator="type"),
]
ServerMessage: TypeAlias = Annotated[
    Welcome | HeartbeatAck | JobAssign | JobCancel | JobStop | JournalAck | ExecutionRecorded | ErrorMessage,
    Field(discriminator="type"),
]
AGENT_MESSAGE_ADAPTER: TypeAdapter[AgentMessage] = TypeAdapter(AgentMessage)
SERVER_MESSAGE_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)

_AGENT_MODELS: dict[str, type[_Message]] = {
    m.model_fields["type"].default: m
    for m in (
        Hello,
        Heartbeat,
        JobAccepted,
        JobRejected,
        JournalBatch,
        LogLine,
        JobFinished,
        SessionCheckpoint,
        ExecutionReport,
    )
}
_SERVER_MODELS: dict[str, type[_Message]] = {
    m.model_fields["type"].default: m
    for m in (Welcome, HeartbeatAck, JobAssign, JobCancel, JobStop, JournalAck, ExecutionRecorded, ErrorMessage)
}
AGENT_MESSAGE_TYPES: tuple[str, ...] = tuple(_AGENT_MODELS)
SERVER_MESSAGE_TYPES: tuple[str, ...] = tuple(_SERVER_MODELS)


def encode(message: AgentMessage | ServerMessage) -> str:
    """Serialise a message as compact JSON (secrets included: this is the wire form).

    Args:
        message: any message of either direction.

    Returns:
        The JSON text of one frame.
    """
    return message.model_dump_json()


def decode_agent_message(raw: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> AgentMessage:
    """Parse one frame sent by an agent.

    Args:
        raw: the frame as received (text or UTF-8 bytes).
        max_bytes: frames above this size are refused before parsing.

    Returns:
        The message, one of the `AgentMessage` union.

    Raises:
        ProtocolError: `too_large`, `malformed`, `unknown_type` or `unsupported_version`.
    """
    return cast("AgentMessage", _decode(raw, max_bytes, _AGENT_MODELS))


def decode_server_message(raw: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> ServerMessage:
    """Parse one frame sent by the orchestrator; see `decode_agent_message`."""
    return cast("ServerMessage", _decode(raw, max_bytes, _SERVER_MODELS))


def _decode(raw: str | bytes, max_bytes: int, models: Mapping[str, type[_Message]]) -> _Message:  # noqa: C901
    size = len(raw)
    if isinstance(raw, str) and size * 4 > max_bytes:  # a char is at most 4 bytes: count only then
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise FrameTooLarge(size, max_bytes)
    try:  # a str may hold lone surrogates, which no UTF-8 frame can carry
        text = raw.encode("utf-8") if isinstance(raw, str) else raw.decode("utf-8")
    except UnicodeError:
        raise MalformedMessage("the frame is not valid UTF-8 text") from None
    try:
        # pydantic's parser, not json.loads: it refuses NaN, escaped lone surrogates and nesting
        # deeper than 200, so whatever decodes here can be encoded again.
        value = from_json(text, allow_inf_nan=False)
    except ValueError as err:
        raise MalformedMessage(f"the frame is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise MalformedMessage(f"a message must be a JSON object, not {_kind(value)}")
    if "type" not in value:
        raise MalformedMessage("type: required field is missing")
    type_name = value["type"]
    if not isinstance(type_name, str):
        raise MalformedMessage(f"type: must be a string, not {_kind(type_name)}")
    model = models.get(type_name)
    if model is None:
        raise UnknownMessageType(type_name, models)
    version = value.get("protocol_version")
    # Checked before the shape: a newer peer's hello may carry fields this version does not know.
    if "protocol_version" in model.model_fields and type(version) is int and version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(version, SUPPORTED_VERSIONS)
    try:
        # Strict: on the wire "5" is not an int and true is not 1.
        return model.model_validate(value, strict=True)
    except ValidationError as err:
        raise MalformedMessage.from_validation_error(type_name, err) from None


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
