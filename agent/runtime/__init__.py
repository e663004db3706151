"""The headless agent: one connection to the orchestrator, jobs run by the engine, journals
streamed through the local outbox.

    _transport  the transport interface (`Transport`, `Connector`), its WebSocket implementation
                and an in-memory pair
    _runtime    the connection loop and the public runtime API (start, stop, status, subscribe)
    _jobs       the job runner (assignment → outbox → engine)
    _sender     unacknowledged events out, in batches, then `job.finished`
    _uploads    the files an execution left, uploaded once it finished or once reconnected
    _gc         how `rpa agent` runs Python's garbage collector (freeze after start-up)

Every event is on disk (outbox) before it is sent and stays there until acknowledged; after a
reconnect the sender starts again from the last acknowledgement, and the orchestrator ignores
duplicates. A job left unfinished by an earlier process of this agent is not resumed here (its
secrets were never written to disk): once its journal is acknowledged the agent rejects it, and the
orchestrator requeues it with that journal, to this agent or another.
"""

from agent.runtime._config import AgentConfig
from agent.runtime._gc import AgentGcPolicy
from agent.runtime._jobs import JobRunner, SubflowLoader
from agent.runtime._runtime import AgentRuntime, RuntimeState, RuntimeStatus, StatusListener
from agent.runtime._transport import (
    Connector,
    MemoryTransport,
    Transport,
    TransportClosed,
    memory_pair,
    websocket_connector,
)
from shared.protocol import PROTOCOL_VERSION

__all__ = [
    "PROTOCOL_VERSION",
    "AgentConfig",
    "AgentGcPolicy",
    "AgentRuntime",
    "Connector",
    "JobRunner",
    "MemoryTransport",
    "RuntimeState",
    "RuntimeStatus",
    "StatusListener",
    "SubflowLoader",
    "Transport",
    "TransportClosed",
    "memory_pair",
    "websocket_connector",
]
