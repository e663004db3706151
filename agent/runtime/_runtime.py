"""The connection loop of the headless agent, and the runtime's public face.

    connect (backoff with jitter) → hello (jobs still in the outbox) → welcome (stop what moved,
      go on under a new attempt with what was requeued meanwhile but taken by nobody)
      ├─ heartbeat every `welcome.heartbeat_interval_s`
      ├─ sender: every unacknowledged outbox event, in batches, then `job.finished`
      └─ receiver: job.assign / job.cancel / job.stop / journal.ack / heartbeat.ack / error
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.outbox import Outbox
from agent.runtime._config import AgentConfig
from agent.runtime._jobs import JobRunner
from agent.runtime._sender import Sender
from agent.runtime._transport import Connector, Transport, TransportClosed, websocket_connector
from shared.protocol import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    AgentConnection,
    AgentMessage,
    ErrorMessage,
    Heartbeat,
    HeartbeatAck,
    JobAssign,
    JobCancel,
    JobStop,
    JournalAck,
    ProtocolError,
    RunningJob,
    Welcome,
    encode,
)
from shared.steps import StepRegistry

log = logging.getLogger("rpa.agent")


class RuntimeState(enum.Enum):
    """Where the runtime's connection is."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"
    """Between two connection attempts (backing off)."""


@dataclass(frozen=True)
class RuntimeStatus:
    """What a tray or a status page shows of a running agent.

    Attributes:
        state: where the connection is.
        running: the executions the agent runs now.
        problem: why the agent cannot work as it should, or None.
    """

    state: RuntimeState
    running: tuple[str, ...] = ()
    problem: str | None = None


StatusListener = Callable[[RuntimeStatus], object]


class AgentRuntime:
    """Runs until stopped; reconnects forever.

    Args:
        config: the agent's settings.
        registry: the steps it runs (default: the built-in ones and the plugins).
        connector: how to reach the orchestrator (default: a WebSocket to `config.url`).
    """

    def __init__(self, config: AgentConfig, *, registry: StepRegistry | None = None,
                 connector: Connector | None = None) -> None:
        self.config = config
        self.registry = registry or StepRegistry.default()
        config.home.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(config.home / "outbox.db")
        self.connector = connector or websocket_connector(config.url, lambda: self.config.key)
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self.jobs = JobRunner(config, self.registry, self.outbox, self._wake.set)
        self._transport: Transport | None = None
        self._sender: Sender | None = None
        self._orphans: set[str] = set()
        self.rtts: list[float] = []
        self.protocol_version = PROTOCOL_VERSION
        """What the next connection speaks: the newest, or an older one an orchestrator asked for."""
        self._again_now = False
        self._state = RuntimeState.STOPPED
        self._problem: str | None = None
        self._listeners: list[StatusListener] = []
        self._task: asyncio.Task[None] | None = None

    # --- public API (the tray and `rpa agent` drive the runtime through these) --------------------

    @property
    def tasks(self) -> dict[str, asyncio.Task[Any]]:
        """The executions running now, each an asyncio task."""
        return self.jobs.tasks

    def start(self) -> asyncio.Task[None]:
        """Run in the background on the current event loop; returns the task (`stop()` ends it)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def stop(self) -> None:
        """Stop the connection and every running job (their journals stay in the outbox), and
        close the outbox."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for execution_id in list(self.jobs.tasks):
            self.jobs.stop(execution_id)
        self.outbox.close()
        self._set_state(RuntimeState.STOPPED)

    def status(self) -> RuntimeStatus:
        """The runtime's state now."""
        return RuntimeStatus(self._state, tuple(sorted(self.jobs.tasks)), self._problem)

    def subscribe(self, listener: StatusListener) -> None:
        """Call `listener` with the new status each time the state or the problem changes."""
        self._listeners.append(listener)

    def _set_state(self, state: RuntimeState) -> None:
        if state is not self._state:
            self._state = state
            self._tell()

    def _tell(self) -> None:
        status = self.status()
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:  # a broken listener must not take the connection down
                log.exception("a runtime status listener failed")

    # --- connection loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect; until cancelled."""
        delay = self.config.backoff_min_s
        try:
            while True:
                self._reload_key()
                self._set_state(RuntimeState.CONNECTING)
                try:
                    async with self.connector() as transport:
                        if await self._session(transport):
                            delay = self.config.backoff_min_s
                            self.protocol_version = PROTOCOL_VERSION  # the orchestrator may be upgraded by then
                except TransportClosed as exc:
                    log.info("connection to %s lost or refused (%s)", self.config.url, exc.reason)
                except ProtocolError as exc:
                    log.error("the orchestrator sent something this agent cannot read: %s", exc.message)
                finally:
                    self.connected.clear()
                    self._transport = None
                if self._again_now:
                    self._again_now = False
                    continue
                self._set_state(RuntimeState.WAITING)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # jitter: agents do not reconnect in step
                delay = min(delay * 2, self.config.backoff_max_s)
        finally:
            self._set_state(RuntimeState.STOPPED)

    def _reload_key(self) -> None:
        if self.config.key_source is None:
            return
        try:
            key = self.config.key_source()
        except Exception as exc:  # a key store that cannot be read now: keep the key in use
            log.warning("could not read the agent key again (%s); using the one in use", type(exc).__name__)
            return
        if key != self.config.key:
            log.info("the agent key stored on this machine changed; connecting with the new one")
            self.config.key = key

    async def _session(self, transport: Transport) -> bool:
        """One connection, from hello to close; True once it got as far as a welcome and was
        closed cleanly."""
        connection = AgentConnection(self.config.name, self.config.version, self.config.capabilities,
                                     self.config.labels, self.config.max_jobs, sorted(d.name for d in self.registry),
                                     protocol_version=self.protocol_version)
        pending = self.outbox.pending_jobs()
        await transport.send(encode(connection.hello([RunningJob(execution_id=j.execution_id, attempt=j.attempt,
                                                                 last_seq=j.last_seq) for j in pending])))
        welcome = connection.receive(await transport.recv())
        if not isinstance(welcome, Welcome):
            if isinstance(welcome, ErrorMessage) and welcome.code == "unsupported_version":
                older = [v for v in SUPPORTED_VERSIONS if v < self.protocol_version]
                if older:
                    log.warning("the orchestrator does not speak protocol %d; speaking %d (upgrade it: an agent "
                                "back after the grace then keeps its execution)", self.protocol_version, max(older))
                    self.protocol_version, self._again_now = max(older), True
                    return False
                self.protocol_version = PROTOCOL_VERSION  # nothing older: next time the newest again
            log.error("the orchestrator refused this agent: %s", getattr(welcome, "message", welcome.type))
            return False
        for execution_id in welcome.stop:
            log.info("execution %s moved to another agent (or ended) while this one was away; stopping it here",
                     execution_id)
            self._drop(execution_id)
        for job in welcome.reclaimed:
            if self.outbox.reattempt(job.execution_id, job.attempt):
                log.info("execution %s was requeued while this agent was away and nobody took it; going on with "
                         "it as attempt %d", job.execution_id, job.attempt)
        self._orphans = {j.execution_id for j in pending
                         if j.execution_id not in welcome.stop and j.execution_id not in self.jobs.tasks
                         and not j.finished}
        self._transport = transport
        self._sender = Sender(self.outbox, self._send_on(transport), self._orphans)
        self.connected.set()
        self._set_state(RuntimeState.CONNECTED)
        self._wake.set()
        workers = [asyncio.create_task(self._heartbeats(transport, connection.heartbeat_interval_s)),
                   asyncio.create_task(self._sender.run(self._wake))]
        try:
            while True:
                try:
                    raw = await transport.recv()
                except TransportClosed as exc:
                    if exc.clean:
                        return True
                    raise
                await self._handle(connection.receive(raw))
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker

    @staticmethod
    def _send_on(transport: Transport) -> Callable[[AgentMessage], Any]:
        async def send(message: AgentMessage) -> None:
            await transport.send(encode(message))

        return send

    async def _send(self, message: AgentMessage) -> None:
        transport = self._transport
        if transport is not None:
            await transport.send(encode(message))

    async def _heartbeats(self, transport: Transport, interval: float) -> None:
        while True:
            await transport.send(encode(Heartbeat(running=sorted(self.jobs.tasks), sent_at=time.time())))
            await asyncio.sleep(interval)

    # --- messages from the orchestrator -----------------------------------------------------------

    async def _handle(self, message: Any) -> None:
        if isinstance(message, JobAssign):
            answer = self.jobs.take(message)
            if answer.type == "job.accepted":
                self._orphans.discard(message.execution_id)
            await self._send(answer)
        elif isinstance(message, JournalAck):
            self._acked(message.execution_id, message.seq)
        elif isinstance(message, JobCancel):
            log.info("cancel asked for %s (%s)", message.execution_id, message.reason)
            if not self.jobs.cancel(message.execution_id) and message.force:
                self._drop(message.execution_id)
        elif isinstance(message, JobStop):
            log.info("execution %s moved (%s); stopping it here", message.execution_id, message.reason)
            self._drop(message.execution_id)
        elif isinstance(message, HeartbeatAck):
            self.rtts.append(time.time() - message.server_time)
        elif isinstance(message, ErrorMessage):
            log.error("orchestrator: %s (%s)", message.message, message.code)

    def _drop(self, execution_id: str) -> None:
        """Stop running an execution here without ending it, and forget its local journal."""
        self.jobs.stop(execution_id)
        self._orphans.discard(execution_id)
        self.outbox.forget(execution_id, force=True)

    def _acked(self, execution_id: str, seq: int) -> None:
        acked = self.outbox.ack(execution_id, seq)
        record = self.outbox.job(execution_id)
        if acked is None or record is None:
            return
        sender = self._sender
        if record.finished and record.fully_acked and sender is not None and execution_id in sender.finish_sent:
            self.outbox.forget(execution_id)
        self._wake.set()
