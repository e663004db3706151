"""The agent ⇄ orchestrator protocol: codec, refusals, and both connection ends plugged together."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shared.protocol
from shared.engine import Event
from shared.protocol import (
    AGENT_MESSAGE_ADAPTER,
    AGENT_MESSAGE_TYPES,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_LARGE,
    CLOSE_UNSUPPORTED_VERSION,
    SERVER_MESSAGE_ADAPTER,
    SERVER_MESSAGE_TYPES,
    AgentConnection,
    AgentMessage,
    AgentState,
    ErrorMessage,
    ExecutionRecorded,
    ExecutionReport,
    Heartbeat,
    HeartbeatAck,
    Hello,
    JobAccepted,
    JobAssign,
    JobCancel,
    JobFinished,
    JobRejected,
    JobStop,
    JournalAck,
    JournalBatch,
    LogLine,
    ProtocolError,
    Reclaimed,
    RunningJob,
    ServerConnection,
    ServerMessage,
    ServerState,
    SessionCheckpoint,
    UnexpectedMessage,
    Welcome,
    WireEvent,
    decode_agent_message,
    decode_server_message,
    encode,
)

EXEC = "0b9c1f6e2d7a4e55"
FLOW = {"schema": "rpa/flow@1", "name": "order-triage", "nodes": [{"id": "start", "type": "core.log"}]}


def _events(*seqs: int) -> list[WireEvent]:
    return [
        WireEvent(
            seq=seq,
            type="node.succeeded",
            path=f"each_line[{seq}]/fill_form",
            data={"output": {"row": seq}, "port": "out"},
            ts=1_718_000_000.25 + seq,
        )
        for seq in seqs
    ]


AGENT_SAMPLES: list[AgentMessage] = [
    Hello(
        protocol_version=1,
        name="robot-eu-01",
        version="0.1.0",
        capabilities=["browser", "desktop"],
        labels=["eu", "finance"],
        max_jobs=2,
        steps=["core.log", "browser.open"],
        running=[RunningJob(execution_id=EXEC, attempt=2, last_seq=17)],
    ),
    Heartbeat(running=[EXEC], sent_at=1_718_000_030.5),
    JobAccepted(execution_id=EXEC, attempt=1),
    JobRejected(execution_id=EXEC, attempt=1, reason="step 'excel.read' is not installed"),
    JournalBatch(execution_id=EXEC, attempt=1, events=_events(1, 2, 5)),
    LogLine(execution_id=EXEC, level="warning", message="the login page was slow (4.2 s)"),
    LogLine(execution_id=None, level="info", message="agent started"),
    JobFinished(
        execution_id=EXEC,
        attempt=1,
        status="failed",
        outputs={"flagged": ["A-101"]},
        error={"kind": "business", "message": "order A-102 has no customer"},
        last_seq=5,
    ),
    SessionCheckpoint(
        execution_id=EXEC, attempt=1, session="browser:main", state={"urls": ["http://erp/"], "cookie": "s3cr3t"}
    ),
    SessionCheckpoint(execution_id=EXEC, attempt=1, session="browser:main", state=None),
    ExecutionReport(
        execution_id="0b6f7c3e-2f4a-4d8e-9c1a-5e6f7a8b9c0d",
        workflow_id="1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        version=3,
        inputs={"date": "2024-06-10"},
        trigger={"type": "hotkey", "hotkey": "Ctrl+Alt+F5"},
        user_id="2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
        started_at=1_718_000_000.0,
    ),
]
SERVER_SAMPLES: list[ServerMessage] = [
    Welcome(
        protocol_version=1, agent_id="agt_42", heartbeat_interval_s=15.0, server_time=1_718_000_000.0, stop=["4c1d0e"]
    ),
    Welcome(
        protocol_version=2,
        agent_id="agt_42",
        heartbeat_interval_s=15.0,
        server_time=1_718_000_000.0,
        reclaimed=[Reclaimed(execution_id=EXEC, attempt=3)],
    ),
    HeartbeatAck(ref="5f3a", server_time=1_718_000_030.6),
    JobAssign(
        execution_id=EXEC,
        attempt=2,
        flow=FLOW,
        subflows={"lib/login@3": FLOW},
        inputs={"date": "2024-06-10"},
        journal=_events(1, 2),
        secrets={"erp_password": "hunter2"},
        deadline_at=1_718_003_600.0,
        priority=5,
    ),
    JobCancel(execution_id=EXEC, force=True, reason="cancelled by alice"),
    JobStop(execution_id=EXEC, reason="moved"),
    JournalAck(execution_id=EXEC, seq=5),
    ExecutionRecorded(execution_id=EXEC, accepted=True),
    ExecutionRecorded(execution_id=EXEC, accepted=False, reason="the id belongs to another agent's execution"),
    HeartbeatAck(ref="5f3b", server_time=1_718_000_040.6, lease_s=10.0),
    Welcome(
        protocol_version=3, agent_id="agt_42", heartbeat_interval_s=15.0, server_time=1_718_000_000.0, lease_s=10.0
    ),
    JobAssign(execution_id=EXEC, attempt=3, flow=FLOW, sessions={"browser:main": {"cookie": "s3cr3t"}}),
    ErrorMessage(code="malformed", message="the frame is not JSON"),
]


def _hello(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(encode(AGENT_SAMPLES[0]))
    return raw | changes


def _refusal(raw: str | bytes, *, server: bool = False, **kw: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        (decode_server_message if server else decode_agent_message)(raw, **kw)
    return caught.value


# --- codec ----------------------------------------------------------------------------------


def test_the_public_names_are_pinned() -> None:
    assert sorted(shared.protocol.__all__) == sorted(
        n for n in dir(shared.protocol) if not n.startswith("_") and n not in {"annotations"}
    )
    assert set(AGENT_MESSAGE_TYPES) == {
        "hello",
        "heartbeat",
        "job.accepted",
        "job.rejected",
        "journal",
        "log",
        "job.finished",
        "session.checkpoint",
        "execution.report",
    }
    assert set(SERVER_MESSAGE_TYPES) == {
        "welcome",
        "heartbeat.ack",
        "job.assign",
        "job.cancel",
        "job.stop",
        "journal.ack",
        "execution.recorded",
        "error",
    }


def test_the_samples_cover_every_member_of_both_unions() -> None:
    agent_members, server_members = (get_args(get_args(alias)[0]) for alias in (AgentMessage, ServerMessage))
    assert {type(m) for m in AGENT_SAMPLES} == set(agent_members)
    assert {type(m) for m in SERVER_SAMPLES} == set(server_members)


@pytest.mark.parametrize("message", AGENT_SAMPLES, ids=lambda m: m.type)
def test_agent_messages_round_trip_as_compact_json(message: AgentMessage) -> None:
    frame = encode(message)
    assert ", " not in frame
    assert '": ' not in frame
    assert decode_agent_message(frame) == message
    assert decode_agent_message(frame.encode()) == message
    assert AGENT_MESSAGE_ADAPTER.validate_json(frame) == message


@pytest.mark.parametrize("message", SERVER_SAMPLES, ids=lambda m: m.type)
def test_server_messages_round_trip_as_compact_json(message: ServerMessage) -> None:
    frame = encode(message)
    assert ", " not in frame
    assert '": ' not in frame
    assert decode_server_message(frame) == message
    assert SERVER_MESSAGE_ADAPTER.validate_json(frame) == message


def test_each_message_gets_its_own_id() -> None:
    first, second = Heartbeat(sent_at=1.0), Heartbeat(sent_at=1.0)
    assert first.id != second.id
    assert len(first.id) == 32


def test_a_wire_event_carries_an_engine_event_both_ways() -> None:
    event = Event(7, "variable.set", "each_line[2]/fill", {"scope": "flow", "name": "n", "value": [1, 2]}, 12.5)
    assert WireEvent.from_event(event).to_event() == event


def test_a_message_of_the_other_direction_is_an_unknown_type() -> None:
    error = _refusal(encode(SERVER_SAMPLES[0]))
    assert error.code == "unknown_type"
    assert "'welcome'" in error.message
    assert _refusal(encode(AGENT_SAMPLES[0]), server=True).code == "unknown_type"


_JOURNAL = encode(AGENT_SAMPLES[4])


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        pytest.param("hello there", "malformed", "not JSON: expected value at line 1 column 1", id="not-json"),
        pytest.param('{"type": "log",}', "malformed", "not JSON: trailing comma at line 1 column 16", id="bad-json"),
        pytest.param(b"\xff\xfe{}", "malformed", "not valid UTF-8", id="not-utf8"),
        pytest.param('{"type": "log", "message": "\ud800"}', "malformed", "not valid UTF-8", id="raw-surrogate"),
        pytest.param('{"type": "heartbeat", "sent_at": NaN}', "malformed", "not JSON: expected value", id="nan"),
        pytest.param(
            '{"type": "heartbeat", "sent_at": 1e999}',
            "malformed",
            "sent_at: Input should be a finite number",
            id="infinity",
        ),
        pytest.param(
            '{"type": "log", "level": "info", "message": "\\ud800"}', "malformed", "not JSON", id="lone-surrogate"
        ),
        pytest.param(
            '{"type": "log", "x": ' + "[" * 500 + "]" * 500 + "}",
            "malformed",
            "not JSON: recursion limit exceeded",
            id="nested-too-deeply",
        ),
        pytest.param("[1, 2]", "malformed", "must be a JSON object, not an array", id="array"),
        pytest.param('{"sent_at": 1}', "malformed", "type: required field is missing", id="no-type"),
        pytest.param('{"type": 3}', "malformed", "type: must be a string", id="type-not-string"),
        pytest.param(
            '{"type": "job.teleport"}',
            "unknown_type",
            "'job.teleport'; known types: hello, heartbeat, job.accepted, job.rejected, journal, log, job.finished, "
            "session.checkpoint",
            id="unknown-type",
        ),
        pytest.param(
            json.dumps({"type": "journal", "execution_id": EXEC, "attempt": 1, "events": []}),
            "malformed",
            "events: List should have at least 1 item",
            id="empty-batch",
        ),
        pytest.param(
            json.dumps({"type": "log", "level": "loud", "message": "x" * 10_001}),
            "malformed",
            "level: Input should be 'debug', 'info', 'warning' or 'error'; message: String should have at "
            "most 10000 characters",
            id="two-errors-joined",
        ),
    ],
)
def test_malformed_frames_are_refused_with_a_code_and_the_path(raw: str | bytes, code: str, fragment: str) -> None:
    error = _refusal(raw)
    assert error.code == code
    assert error.close_code == CLOSE_PROTOCOL_ERROR
    assert fragment in error.message
    assert "Traceback" not in error.message
    assert "errors.pydantic.dev" not in error.message


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        pytest.param(
            '"seq":1,', '"seq":"one",', "message: events[0].seq: Input should be a valid integer", id="wrong-type"
        ),
        pytest.param('"seq":1,', '"seq":"1",', "events[0].seq", id="no-coercion"),
        pytest.param('"seq":1,', '"seq":0,', "events[0].seq: Input should be greater", id="seq-zero"),
        pytest.param('"attempt":1,', '"attempt":1,"shard":3,', "shard: unknown field", id="extra-field"),
        pytest.param(',"ts":1718000002.25}', "}", "events[1].ts: required field is missing", id="missing-field"),
        pytest.param(
            '"seq":5,', '"seq":2,', "events: seqs must increase strictly, but events[2].seq is 2 after 2", id="seqs"
        ),
    ],
)
def test_a_journal_batch_altered_in_one_place_is_refused_naming_that_place(old: str, new: str, fragment: str) -> None:
    assert old in _JOURNAL
    error = _refusal(_JOURNAL.replace(old, new, 1))
    assert (error.code, error.close_code) == ("malformed", CLOSE_PROTOCOL_ERROR)
    assert error.message.startswith("invalid 'journal' message: ")
    assert fragment in error.message


def test_at_most_three_problems_are_named() -> None:
    error = _refusal(json.dumps({"type": "job.finished", "a": 1, "b": 2, "c": 3, "d": 4}))
    assert error.message.count(";") == 2
    assert "more)" in error.message


def test_a_refusal_never_quotes_a_value() -> None:
    frame = encode(SERVER_SAMPLES[3]).replace('"hunter2"', '["hunter2"]')
    error = _refusal(frame, server=True)
    assert "secrets.erp_password: Input should be a valid string" in error.message
    assert "hunter2" not in error.message
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_a_frame_over_the_limit_is_refused_before_parsing() -> None:
    big = "{" + "x" * 2_000  # not JSON either: the size is checked first
    for raw in (big, big.encode()):
        error = _refusal(raw, max_bytes=1_000)
        assert (error.code, error.close_code) == ("too_large", CLOSE_TOO_LARGE)
        assert "2,001 bytes, above the limit of 1,000 bytes" in error.message
    assert _refusal("é" * 300, max_bytes=500).code == "too_large"  # 600 bytes in UTF-8
    assert decode_agent_message(encode(AGENT_SAMPLES[1]), max_bytes=1_000) == AGENT_SAMPLES[1]


@pytest.mark.parametrize("extra", [{}, {"shard_hint": "eu"}], ids=["same-shape", "newer-shape"])
def test_an_unsupported_version_is_refused_naming_both_sides(extra: dict[str, Any]) -> None:
    error = _refusal(json.dumps(_hello(protocol_version=6, **extra)))
    assert (error.code, error.close_code) == ("unsupported_version", CLOSE_UNSUPPORTED_VERSION)
    assert "protocol version 6 is not supported; supported versions: 1, 2, 3, 4, 5" in error.message


@pytest.mark.parametrize("version", [1, 2, 3])
def test_the_lease_goes_only_to_an_agent_of_version_3(version: int) -> None:
    server = ServerConnection("agt_42", 15.0, lease_s=10.0)
    server.receive(json.dumps(_hello(protocol_version=version)))
    frames = [json.loads(encode(server.welcome())), json.loads(encode(server.heartbeat_ack("5f3a")))]
    expected = 10.0 if version >= 3 else None
    assert [frame.get("lease_s") for frame in frames] == [expected, expected]
    # What the agent of that version decodes (an older one refuses unknown fields).
    assert decode_server_message(encode(server.heartbeat_ack("5f3a"))).lease_s == expected
    without = ServerConnection("agt_42", 15.0)
    without.receive(json.dumps(_hello(protocol_version=version)))
    assert "lease_s" not in json.loads(encode(without.welcome()))


# --- the server end -------------------------------------------------------------------------


def _ready_server(*assigned: tuple[str, int]) -> ServerConnection:
    server = ServerConnection("agt_42", 15.0)
    server.receive(encode(AGENT_SAMPLES[0]))
    for execution_id, attempt in assigned:
        server.assign(execution_id, attempt)
    return server


@pytest.mark.parametrize("message", AGENT_SAMPLES[1:], ids=lambda m: m.type)
def test_the_server_refuses_anything_before_hello_naming_hello(message: AgentMessage) -> None:
    server = ServerConnection("agt_42", 15.0)
    with pytest.raises(UnexpectedMessage, match=rf"unexpected '{message.type}' message; expected 'hello' first"):
        server.receive(encode(message))
    assert server.state is ServerState.AWAITING_HELLO


def test_the_server_refuses_a_second_hello() -> None:
    server = _ready_server()
    with pytest.raises(UnexpectedMessage, match="second 'hello'"):
        server.receive(encode(AGENT_SAMPLES[0]))


def test_the_server_refuses_an_unsupported_version_in_a_built_hello() -> None:
    server = ServerConnection("agt_42", 15.0)
    hello = Hello.model_validate(_hello(protocol_version=6))
    with pytest.raises(ProtocolError) as caught:
        server.receive(hello.model_dump_json())
    assert caught.value.code == "unsupported_version"
    assert server.state is ServerState.AWAITING_HELLO


@pytest.mark.parametrize("message", [m for m in AGENT_SAMPLES if hasattr(m, "attempt")], ids=lambda m: m.type)
def test_messages_about_an_unassigned_execution_are_not_yours(message: AgentMessage) -> None:
    server = _ready_server()
    with pytest.raises(ProtocolError) as caught:
        server.receive(encode(message))
    assert caught.value.code == "not_yours"
    assert caught.value.close_code == CLOSE_PROTOCOL_ERROR
    assert f"execution '{EXEC}' attempt 1 is not assigned" in caught.value.message
    server.assign(EXEC, 1)
    assert server.receive(encode(message)) == message
    server.release(EXEC)
    with pytest.raises(ProtocolError, match="not assigned"):
        server.receive(encode(message))


def test_a_journal_for_another_attempt_is_not_yours() -> None:
    server = _ready_server((EXEC, 2))
    assert server.assigned == {EXEC: 2}
    with pytest.raises(ProtocolError) as caught:
        server.receive(encode(AGENT_SAMPLES[4]))  # attempt 1: the execution moved on to attempt 2
    assert caught.value.code == "not_yours"


def test_welcome_needs_a_hello_and_carries_the_stop_list() -> None:
    server = ServerConnection("agt_42", 15.0)
    with pytest.raises(RuntimeError, match="hello"):
        server.welcome([])
    server.receive(encode(AGENT_SAMPLES[0]))
    welcome = server.welcome([EXEC])
    assert (welcome.agent_id, welcome.heartbeat_interval_s, welcome.stop, welcome.protocol_version) == (
        "agt_42",
        15.0,
        [EXEC],
        1,
    )


def test_welcome_answers_in_the_agents_version_and_only_a_version_2_agent_hears_of_reclaims() -> None:
    reclaimed = [Reclaimed(execution_id=EXEC, attempt=3)]
    old = ServerConnection("agt_42", 15.0)
    old.receive(encode(AGENT_SAMPLES[0]))  # a version-1 hello
    welcome = old.welcome([EXEC])
    assert welcome.protocol_version == 1
    # What a version-1 agent reads: exactly the fields it knows (it refuses any other).
    assert set(json.loads(encode(welcome))) == {
        "id",
        "type",
        "protocol_version",
        "agent_id",
        "heartbeat_interval_s",
        "server_time",
        "stop",
    }
    with pytest.raises(ValueError, match="version-1 agent cannot be told to go on under a new attempt"):
        old.welcome([], reclaimed)

    new = ServerConnection("agt_42", 15.0)
    new.receive(json.dumps(_hello(protocol_version=2)))
    welcome = new.welcome([], reclaimed)
    assert (welcome.protocol_version, welcome.reclaimed) == (2, reclaimed)
    assert json.loads(encode(welcome))["reclaimed"] == [{"execution_id": EXEC, "attempt": 3}]
    assert "reclaimed" not in json.loads(encode(new.welcome([])))  # empty: left out, as for version 1

    agent = AgentConnection("robot-eu-01", "0.1.0", ["browser"], ["eu"], 2, ["core.log"], protocol_version=2)
    hello = agent.hello([RunningJob(execution_id=EXEC, attempt=2, last_seq=9)])
    assert hello.protocol_version == 2
    assert agent.receive(encode(welcome)) == welcome
    assert _agent().hello().protocol_version == 5  # the newest by default


def test_only_a_version_3_agent_hears_of_the_lease_and_only_a_version_3_orchestrator_of_health() -> None:
    for version, fields in ((2, set()), (3, {"lease_s"})):
        server = ServerConnection("agt_42", 15.0, lease_s=10.0)
        server.receive(json.dumps(_hello(protocol_version=version)))
        sent = set(json.loads(encode(server.welcome([]))))
        assert (
            sent - {"id", "type", "protocol_version", "agent_id", "heartbeat_interval_s", "server_time", "stop"}
            == fields
        )
    agent = _agent()
    agent.hello()
    welcome = ServerConnection("agt_42", 15.0, lease_s=7.5)
    welcome.receive(json.dumps(_hello(protocol_version=3)))
    agent.receive(encode(welcome.welcome([])))
    assert agent.lease_s == 7.5
    assert "unhealthy" not in json.loads(encode(Heartbeat(sent_at=1.0)))  # what an older orchestrator reads
    sick = Heartbeat(sent_at=1.0, unhealthy="the outbox cannot be written")
    assert decode_agent_message(encode(sick)) == sick


def test_the_agent_can_speak_an_older_version_and_no_unknown_one() -> None:
    old = AgentConnection("robot-eu-01", "0.1.0", [], [], 1, [], protocol_version=1)
    assert old.hello().protocol_version == 1
    with pytest.raises(ValueError, match="protocol version 6 is not one this agent speaks"):
        AgentConnection("robot-eu-01", "0.1.0", [], [], 1, [], protocol_version=6)


def test_a_reclaim_names_a_valid_attempt() -> None:
    frame = json.loads(encode(SERVER_SAMPLES[1]))
    frame["reclaimed"][0]["attempt"] = 0
    error = _refusal(json.dumps(frame), server=True)
    assert error.code == "malformed"
    assert "reclaimed[0].attempt" in error.message


def test_refuse_builds_the_error_message_and_closes() -> None:
    server = ServerConnection("agt_42", 15.0)
    with pytest.raises(ProtocolError) as caught:
        server.receive("[]")
    reply = server.refuse(caught.value)
    assert (reply.code, reply.message) == ("malformed", "a message must be a JSON object, not an array")
    assert server.state is ServerState.CLOSED
    with pytest.raises(UnexpectedMessage, match="'hello' message; expected nothing: the connection is closed"):
        server.receive(encode(AGENT_SAMPLES[0]))


# --- the agent end --------------------------------------------------------------------------


def _agent() -> AgentConnection:
    return AgentConnection("robot-eu-01", "0.1.0", ["browser"], ["eu"], 2, ["core.log"])


def test_the_agent_refuses_a_welcome_before_its_hello() -> None:
    agent = _agent()
    with pytest.raises(UnexpectedMessage, match="'welcome' message; expected nothing before hello is sent"):
        agent.receive(encode(SERVER_SAMPLES[0]))
    with pytest.raises(RuntimeError, match="no welcome"):
        _ = agent.agent_id


def test_the_agent_wants_welcome_first_then_refuses_a_second_one() -> None:
    agent = _agent()
    agent.hello()
    with pytest.raises(UnexpectedMessage, match=r"'job\.assign' message; expected 'welcome' first"):
        agent.receive(encode(SERVER_SAMPLES[3]))
    agent.receive(encode(SERVER_SAMPLES[0]))
    assert (agent.state, agent.agent_id, agent.heartbeat_interval_s) == (AgentState.READY, "agt_42", 15.0)
    with pytest.raises(UnexpectedMessage, match="second 'welcome'"):
        agent.receive(encode(SERVER_SAMPLES[0]))
    with pytest.raises(RuntimeError, match="hello"):
        agent.hello()


def test_the_agent_takes_an_error_in_any_open_state_and_refuses_a_newer_server() -> None:
    agent = _agent()
    agent.hello()
    assert isinstance(agent.receive(encode(SERVER_SAMPLES[-1])), ErrorMessage)
    newer = json.loads(encode(SERVER_SAMPLES[0])) | {"protocol_version": 6}
    with pytest.raises(ProtocolError) as caught:
        agent.receive(json.dumps(newer))
    assert caught.value.code == "unsupported_version"
    agent.close()
    with pytest.raises(UnexpectedMessage, match="closed"):
        agent.receive(encode(SERVER_SAMPLES[-1]))


class Wire:
    """Both ends plugged together in memory: every message crosses as encoded text."""

    def __init__(self, server: ServerConnection, agent: AgentConnection) -> None:
        self.server, self.agent = server, agent

    def up(self, message: AgentMessage) -> AgentMessage:
        return self.server.receive(encode(message))

    def down(self, message: ServerMessage) -> ServerMessage:
        return self.agent.receive(encode(message))


def test_a_whole_conversation_from_hello_to_finished() -> None:
    wire = Wire(ServerConnection("agt_42", 10.0), _agent())
    hello = wire.up(wire.agent.hello([RunningJob(execution_id="old", attempt=1, last_seq=3)]))
    assert isinstance(hello, Hello)
    assert hello.running[0].execution_id == "old"
    welcome = wire.down(wire.server.welcome(stop=["old"]))
    assert isinstance(welcome, Welcome)
    assert welcome.stop == ["old"]
    assert wire.agent.agent_id == "agt_42"

    wire.server.assign(EXEC, 1)
    assign = wire.down(JobAssign(execution_id=EXEC, attempt=1, flow=FLOW, secrets={"pw": "s3cret"}))
    assert isinstance(assign, JobAssign)
    assert assign.secrets == {"pw": "s3cret"}
    accepted = JobAccepted(execution_id=EXEC, attempt=1)
    assert wire.up(accepted) == accepted
    batch = wire.up(JournalBatch(execution_id=EXEC, attempt=1, events=_events(1, 2, 3)))
    assert isinstance(batch, JournalBatch)
    assert [e.to_event().seq for e in batch.events] == [1, 2, 3]
    ack = wire.down(JournalAck(execution_id=EXEC, seq=batch.events[-1].seq))
    assert isinstance(ack, JournalAck)
    assert ack.seq == 3
    beat = wire.up(Heartbeat(running=[EXEC], sent_at=2.0))
    assert isinstance(wire.down(HeartbeatAck(ref=beat.id, server_time=2.1)), HeartbeatAck)
    finished = wire.up(JobFinished(execution_id=EXEC, attempt=1, status="succeeded", last_seq=3))
    assert isinstance(finished, JobFinished)
    assert finished.status == "succeeded"
    wire.server.release(EXEC)
    assert wire.server.assigned == {}
    with pytest.raises(ProtocolError, match="not assigned"):
        wire.up(JournalBatch(execution_id=EXEC, attempt=1, events=_events(4)))


# --- secrets --------------------------------------------------------------------------------


def test_secret_values_are_masked_in_repr_but_travel_on_the_wire() -> None:
    assign = JobAssign(execution_id=EXEC, attempt=1, flow=FLOW, secrets={"erp_password": "hunter2"})
    for text in (repr(assign), str(assign), f"{assign!r}", repr([assign])):
        assert "hunter2" not in text
        assert "erp_password" in text
    assert '"erp_password":"hunter2"' in encode(assign)
    assert decode_server_message(encode(assign)).secrets == {"erp_password": "hunter2"}  # type: ignore[union-attr]


# --- robustness -----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


_CODES = {"malformed", "too_large", "unknown_type", "unsupported_version"}


def _outcome(decode: Callable[[str | bytes], Any], raw: str | bytes) -> Any:
    """The decoded message or the ProtocolError; anything else propagates and fails the test."""
    try:
        return decode(raw)
    except ProtocolError as error:
        return error


# Any code point, lone surrogates included (joined from a list: `st.text` leaves them out), mixed
# with JSON punctuation so that some frames get past the parser.
_frame_text = st.lists(st.characters(exclude_categories=()) | st.sampled_from('{}[]":,\\u0 \ud800'), max_size=200).map(
    "".join
)


@settings(max_examples=200, deadline=None)
@given(raw=_frame_text | st.binary(max_size=200))
def test_decoding_random_frames_raises_only_protocol_errors(raw: str | bytes) -> None:
    for decode in (decode_agent_message, decode_server_message):
        outcome = _outcome(decode, raw)
        if isinstance(outcome, ProtocolError):
            assert outcome.message
            assert outcome.code in _CODES


@settings(max_examples=200, deadline=None)
@given(
    value=_json,
    type_name=st.sampled_from([*AGENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES, "nope"]),
    as_object=st.booleans(),
)
def test_decoding_random_json_raises_only_protocol_errors(value: Any, type_name: str, as_object: bool) -> None:
    if as_object:  # reach the field validation too, not only the envelope checks
        value = (value if isinstance(value, dict) else {"x": value}) | {"type": type_name}
    raw = json.dumps(value)
    for decode in (decode_agent_message, decode_server_message):
        outcome = _outcome(decode, raw)
        if isinstance(outcome, ProtocolError):
            assert outcome.message
            assert outcome.code in _CODES
        else:
            assert json.loads(encode(outcome))["type"] == type_name


def test_session_checkpoints_are_hidden_in_repr_and_left_out_of_an_assign_without_them() -> None:
    checkpoint, assign = AGENT_SAMPLES[-2], SERVER_SAMPLES[-2]
    assert "s3cr3t" not in repr(checkpoint)
    assert "s3cr3t" not in repr(assign)
    assert "browser:main" in repr(assign)
    assert json.loads(encode(assign))["sessions"] == {"browser:main": {"cookie": "s3cr3t"}}
    assert "sessions" not in json.loads(encode(SERVER_SAMPLES[3]))  # what an agent before version 4 reads
    bad = encode(checkpoint).replace('"browser:main"', '"browser main"')
    assert "session: String should match pattern" in _refusal(bad).message


def test_sub_flow_assets_travel_with_a_job_and_are_left_out_when_there_are_none() -> None:
    sha = "ab" * 32
    job = JobAssign(
        execution_id="e-1",
        attempt=1,
        flow={"schema": "rpa.flow/1", "name": "Root", "nodes": [], "edges": []},
        subflows={"Child": {"schema": "rpa.flow/1", "name": "Child", "nodes": [], "edges": []}},
        subflow_assets={"Child": {"images/ok.png": {"sha256": sha, "size": 12}}},
    )
    wire = json.loads(encode(job))
    assert wire["subflow_assets"] == {"Child": {"images/ok.png": {"sha256": sha, "size": 12}}}
    back = decode_server_message(encode(job))
    assert isinstance(back, JobAssign)
    assert back.subflow_assets["Child"]["images/ok.png"].sha256 == sha
    # An agent that does not know the field is never sent it empty.
    assert "subflow_assets" not in json.loads(encode(job.model_copy(update={"subflow_assets": {}})))
    bad = encode(job).replace(sha, "not-a-hash")
    with pytest.raises(ProtocolError, match="sha256"):
        decode_server_message(bad)
