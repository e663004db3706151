"""The connection loop of the headless agent, and the runtime's public face.

    connect (backoff with jitter, capped under the lease) → hello (jobs still in the outbox) →
      welcome (stop what moved, go on under a new attempt with what was requeued meanwhile but
      taken by nobody; the lease)
      ├─ heartbeat every `welcome.heartbeat_interval_s` (a third of the lease while jobs run),
      │    each acknowledgement keeping the fence open (`_fence.py`)
      ├─ watchdog: jobs running and a heartbeat unanswered for the lease → a new connection
      ├─ sender: every unacknowledged outbox event, in batches, then `job.finished`
      └─ receiver: job.assign / job.cancel / job.stop / journal.ack / heartbeat.ack / error

An outbox that cannot be written (disk full, read-only) stops the job that hit it, which is handed
back once its journal is in; the agent takes no job meanwhile, says why in each heartbeat
(`unhealthy`) and in `status()`, tries a write every `health_probe_s`, and takes jobs again once
one succeeds.
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

from agent import session_checkpoints
from agent.outbox import Outbox, OutboxWriteError
from agent.runtime._backoff import Backoff
from agent.runtime._checkpoints import CheckpointSender
from agent.runtime._config import AgentConfig
from agent.runtime._fence import DEFAULT_LEASE_S, Fence, fenced_registry, margin_for
from agent.runtime._jobs import JobRunner
from agent.runtime._reports import REASON_KEY, REPORTS_FROM, STATE_KEY, is_attended, report_state
from agent.runtime._sender import Sender
from agent.runtime._transport import Connector, Transport, TransportClosed, websocket_connector
from shared.protocol import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    AgentConnection,
    AgentMessage,
    ErrorMessage,
    ExecutionRecorded,
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

UNHEALTHY_MAX = 500
"""`heartbeat.unhealthy` carries at most this many characters (the message's own bound)."""


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
    fenced: bool = False
    """Jobs run but no step with outside effects may start: no acknowledgement within the lease."""


StatusListener = Callable[[RuntimeStatus], object]


class AgentRuntime:
    """Runs until stopped; reconnects forever.

    Args:
        config: the agent's settings.
        registry: the steps it runs (default: the built-in ones and the plugins).
        connector: how to reach the orchestrator (default: a WebSocket to `config.url`).
    """

    def __init__(
        self, config: AgentConfig, *, registry: StepRegistry | None = None, connector: Connector | None = None
    ) -> None:
        self.config = config
        self.registry = registry or StepRegistry.default()
        config.home.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(config.home / "outbox.db")
        self.connector = connector or websocket_connector(config.url, lambda: self.config.key)
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._beat_now = asyncio.Event()
        self.fence = Fence()
        self.backoff = Backoff(
            config.backoff_min_s,
            config.backoff_max_s,
            config.healthy_s,
            random.Random(config.backoff_seed),
            spread_s=config.reconnect_spread_s,
        )
        self.jobs = JobRunner(
            config,
            fenced_registry(self.registry, self.fence),
            self.outbox,
            self._wake.set,
            self._write_failed,
            lambda: self._problem,
        )
        self.jobs.local_registry = self.registry
        self._transport: Transport | None = None
        self._sender: Sender | None = None
        self._handback: dict[str, str] = {}
        """Jobs to hand back once their journal is in, with the reason the orchestrator records."""
        self._acked_unstored: dict[str, int] = {}
        self._forget_later: set[str] = set()
        self._welcomed_at: float | None = None
        self._beat_every = 0.0
        """The connection's heartbeat interval: the longest a beat waits."""
        self._beats: dict[str, float] = {}
        """Heartbeats of this connection not answered yet: id → when sent (monotonic)."""
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
        await self.jobs.uploads.aclose()
        self.outbox.close()
        self._set_state(RuntimeState.STOPPED)

    def status(self) -> RuntimeStatus:
        """The runtime's state now."""
        return RuntimeStatus(
            self._state,
            tuple(sorted(self.jobs.tasks)),
            self._problem,
            bool(self.jobs.tasks) and not self.fence.is_open(),
        )

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
        probe = asyncio.create_task(self._probe_health())
        try:
            while True:
                self._reload_key()
                self._set_state(RuntimeState.CONNECTING)
                self._welcomed_at, clean, retry_after = None, False, None
                try:
                    async with self.connector() as transport:
                        clean = await self._session(transport)
                except TransportClosed as exc:
                    retry_after = exc.retry_after_s
                    if retry_after is None:
                        log.info("connection to %s lost or refused (%s)", self.config.url, exc.reason)
                except ProtocolError as exc:
                    log.error("the orchestrator sent something this agent cannot read: %s", exc.message)
                finally:
                    self.connected.clear()
                    self._transport = None
                    self._beats.clear()
                if self._welcomed_at is not None:  # however it ended: a cut raises, a close returns
                    self.backoff.connected(time.monotonic() - self._welcomed_at, clean=clean)
                    if clean:
                        self.protocol_version = PROTOCOL_VERSION  # the orchestrator may be upgraded by then
                if self._again_now:
                    self._again_now = False
                    continue
                self._set_state(RuntimeState.WAITING)
                delay = self.backoff.next_delay(retry_after)
                if retry_after is not None:  # a storm: normal, and told once per attempt at most
                    log.info("the orchestrator is busy; connecting again in %.2f s, as it asked", delay)
                else:
                    log.info("connecting again in %.2f s (at most %.2f s)", delay, self.backoff.cap_s)
                await asyncio.sleep(delay)
        finally:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
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

    def _refused(self, answer: Any) -> None:
        """The orchestrator answered the hello with something other than a welcome."""
        if isinstance(answer, ErrorMessage) and answer.code == "unsupported_version":
            older = [v for v in SUPPORTED_VERSIONS if v < self.protocol_version]
            if older:
                log.warning(
                    "the orchestrator does not speak protocol %d; speaking %d (upgrade it: an agent "
                    "back after the grace then keeps its execution)",
                    self.protocol_version,
                    max(older),
                )
                self.protocol_version, self._again_now = max(older), True
                return
            self.protocol_version = PROTOCOL_VERSION  # nothing older: next time the newest again
        log.error("the orchestrator refused this agent: %s", getattr(answer, "message", answer.type))

    def _adopt(self, welcome: Welcome, pending: list[Any]) -> None:
        """What the welcome says of the executions this agent brought back: stop, go on, or hand back."""
        for execution_id in welcome.stop:
            log.info(
                "execution %s moved to another agent (or ended) while this one was away; stopping it here", execution_id
            )
            self._drop(execution_id)
        for job in welcome.reclaimed:
            try:
                if self.outbox.reattempt(job.execution_id, job.attempt):
                    log.info(
                        "execution %s was requeued while this agent was away and nobody took it; going on "
                        "with it as attempt %d",
                        job.execution_id,
                        job.attempt,
                    )
            except OutboxWriteError as exc:  # it cannot go on under the new attempt: hand it back
                self._write_failed(job.execution_id, exc)
                self.jobs.stop(job.execution_id)
        for record in pending:
            if (
                record.execution_id not in welcome.stop
                and record.execution_id not in self.jobs.tasks
                and not record.finished
                and not is_attended(record)  # a person started it here: never handed to another agent
            ):
                self._handback.setdefault(record.execution_id, "the agent restarted; resume it from its journal")
        self.jobs.uploads.flush_soon()  # files of executions that ended while it was away

    async def _session(self, transport: Transport) -> bool:
        """One connection, from hello to close; sets `_welcomed_at` when the welcome comes.

        Returns:
            Whether the orchestrator closed the connection cleanly after a welcome.
        """
        connection = AgentConnection(
            self.config.name,
            self.config.version,
            self.config.capabilities,
            self.config.labels,
            self.config.max_jobs,
            sorted(d.name for d in self.registry),
            protocol_version=self.protocol_version,
        )
        # An attended run the orchestrator has not recorded yet is not named: it does not know the id.
        pending = [j for j in self.outbox.pending_jobs() if report_state(j) in ("none", "recorded")]
        hello_sent = time.monotonic()
        await transport.send(
            encode(
                connection.hello(
                    [RunningJob(execution_id=j.execution_id, attempt=j.attempt, last_seq=j.last_seq) for j in pending]
                )
            )
        )
        welcome = connection.receive(await transport.recv())
        if not isinstance(welcome, Welcome):
            self._refused(welcome)
            return False
        self._welcomed_at = time.monotonic()
        # The welcome answers the hello: what it did not stop is this agent's, for a lease from then.
        lease = connection.lease_s or DEFAULT_LEASE_S
        self.backoff.lease_s = lease
        self._beat_every = connection.heartbeat_interval_s
        self._adopt(welcome, pending)
        self.fence.renew(hello_sent, lease)
        self._transport = transport
        self._sender = Sender(
            self.outbox,
            self._send_on(transport),
            self._handback,
            self._forget,
            self._acked_unstored,
            checkpoints=CheckpointSender() if connection.protocol_version >= 4 else None,
            reports=connection.protocol_version >= REPORTS_FROM,
        )
        self.connected.set()
        self._set_state(RuntimeState.CONNECTED)
        self._wake.set()
        receiver = asyncio.create_task(self._receive(transport, connection))
        workers = [
            asyncio.create_task(self._heartbeats(transport, connection)),
            asyncio.create_task(self._sender.run(self._wake)),
            asyncio.create_task(self._watchdog()),
        ]
        try:
            await asyncio.wait([receiver, workers[2]], return_when=asyncio.FIRST_COMPLETED)
            if not receiver.done():  # the watchdog: the orchestrator stopped answering
                return False
            try:
                receiver.result()
            except TransportClosed as exc:
                if exc.clean:
                    return True
                raise
            return False
        finally:
            for worker in [receiver, *workers]:
                worker.cancel()
            for worker in [receiver, *workers]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker

    async def _receive(self, transport: Transport, connection: AgentConnection) -> None:
        while True:
            raw = await transport.recv()
            await self._handle(connection.receive(raw))

    async def _watchdog(self) -> None:
        """Returns once jobs run and a heartbeat went unanswered for the lease: this connection
        can no longer tell the agent whether its executions are still its own; a new one will."""
        while True:
            await asyncio.sleep(0.05)
            lease = self.fence.lease_s
            if (
                self.jobs.tasks
                and self._beats
                and time.monotonic() - min(self._beats.values()) > lease - margin_for(lease)
            ):
                log.warning(
                    "no answer from the orchestrator for %.1f s (its lease is %.1f s): starting no more "
                    "steps, and connecting again to learn which executions are still this agent's",
                    time.monotonic() - min(self._beats.values()),
                    lease,
                )
                self._tell()
                return

    @staticmethod
    def _send_on(transport: Transport) -> Callable[[AgentMessage], Any]:
        async def send(message: AgentMessage) -> None:
            await transport.send(encode(message))

        return send

    async def _send(self, message: AgentMessage) -> None:
        transport = self._transport
        if transport is not None:
            await transport.send(encode(message))

    async def _heartbeats(self, transport: Transport, connection: AgentConnection) -> None:
        while True:
            problem = self._problem[:UNHEALTHY_MAX] if self._problem and connection.protocol_version >= 3 else None
            beat = Heartbeat(running=sorted(self.jobs.tasks), sent_at=time.time(), unhealthy=problem)
            self._beats[beat.id] = time.monotonic()
            self._beat_now.clear()
            await transport.send(encode(beat))
            interval = connection.heartbeat_interval_s
            if self.jobs.tasks:  # acknowledgements must come well within the lease, or steps wait
                interval = min(interval, self.fence.lease_s / 3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), interval)

    # --- messages from the orchestrator -----------------------------------------------------------

    async def _handle(self, message: Any) -> None:
        if isinstance(message, JobAssign):
            await self._assigned(message)
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
            self._heartbeat_acked(message)
        elif isinstance(message, ExecutionRecorded):
            self._recorded(message)
        elif isinstance(message, ErrorMessage):
            log.error("orchestrator: %s (%s)", message.message, message.code)

    async def _assigned(self, message: JobAssign) -> None:
        answer = self.jobs.take(message)
        if answer.type == "job.accepted":
            self._handback.pop(message.execution_id, None)
            if self._sender is not None:  # what went out under an older attempt goes out again
                self._sender.sent.pop(message.execution_id, None)
                self._sender.finish_sent.discard(message.execution_id)
            if self.fence.open_for() < self._beat_every + margin_for(self.fence.lease_s):
                # Its first step would wait for an acknowledgement: ask for one now. Otherwise the
                # regular beats keep the fence open (a beat per job doubled the messages of short jobs).
                self._beat_now.set()
        await self._send(answer)

    def _recorded(self, message: ExecutionRecorded) -> None:
        """The orchestrator's answer to an attended run's report: send its journal, or keep it here."""
        changes: dict[str, Any] = {STATE_KEY: "recorded" if message.accepted else "refused"}
        if message.accepted:
            log.info("attended execution %s is recorded by the orchestrator; sending its journal", message.execution_id)
            self.jobs.uploads.flush_soon()  # its files, if it ended before the orchestrator knew it
        else:
            changes[REASON_KEY] = message.reason
            log.error(
                "the orchestrator refused attended execution %s (%s); its journal stays on this machine only",
                message.execution_id,
                message.reason,
            )
        try:
            self.outbox.update_assignment(message.execution_id, changes)
        except OutboxWriteError as exc:  # answered again after the next report
            if self._sender is not None:
                self._sender.reported.discard(message.execution_id)
            self._write_failed(None, exc)
        self._wake.set()

    def _heartbeat_acked(self, message: HeartbeatAck) -> None:
        self.rtts.append(time.time() - message.server_time)
        sent = self._beats.pop(message.ref, None)
        if sent is not None:
            self.fence.renew(sent, message.lease_s)  # the ack renews the lease it states (version 3)
            if message.lease_s is not None:
                self.backoff.lease_s = message.lease_s
            for ref in [ref for ref, at in self._beats.items() if at <= sent]:
                del self._beats[ref]  # an answer to a later beat covers the earlier ones
        self.jobs.uploads.flush_soon()  # files a failed upload left, while any are

    def _drop(self, execution_id: str) -> None:
        """Stop running an execution here without ending it, and forget its local journal."""
        self.jobs.stop(execution_id)
        self._handback.pop(execution_id, None)
        self._forget(execution_id)
        # Its sessions' state goes with it: the agent that has it now gets the orchestrator's copy.
        session_checkpoints.delete_execution(execution_id)

    def _forget(self, execution_id: str) -> None:
        self._acked_unstored.pop(execution_id, None)
        try:
            self.outbox.forget(execution_id, force=True)
        except OutboxWriteError as exc:
            self._forget_later.add(execution_id)  # once the outbox can be written again
            self._write_failed(None, exc)
            return
        if self._sender is not None:  # a connection lives for many jobs: keep nothing of this one
            self._sender.forget_job(execution_id)

    def _acked(self, execution_id: str, seq: int) -> None:
        try:
            acked = self.outbox.ack(execution_id, seq)
        except OutboxWriteError as exc:  # kept in memory: enough to hand the job back meanwhile
            self._acked_unstored[execution_id] = max(seq, self._acked_unstored.get(execution_id, 0))
            self._write_failed(None, exc)
            self._wake.set()
            return
        record = self.outbox.job(execution_id)
        if acked is None or record is None:
            return
        sender = self._sender
        if record.finished and record.fully_acked and sender is not None and execution_id in sender.finish_sent:
            self._forget(execution_id)
        self._wake.set()

    # --- an outbox that cannot be written -----------------------------------------------------------

    def _write_failed(self, execution_id: str | None, exc: OutboxWriteError) -> None:
        """The outbox refused a write. A job that stopped on it is handed back (once the events
        already on disk are in); no job is taken until a write succeeds again."""
        problem = (
            f"the agent's outbox cannot be written ({exc.cause}); it takes no jobs until it can: "
            f"free space on its disk or make {self.outbox.path} writable"
        )
        if execution_id is not None:
            log.error(
                "execution %s stopped: its journal cannot be written (%s); handing it back to the orchestrator",
                execution_id,
                exc.cause,
            )
            self._handback[execution_id] = (
                f"the agent could not write its journal ({exc.cause}); resume it from the last event it reported"
            )
        if self._problem is None:
            log.error("%s", problem)
            self._problem = problem
            self._tell()
        self._beat_now.set()  # the orchestrator hears of it at once, not at the next beat
        self._wake.set()

    async def _probe_health(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_probe_s)
            if self._problem is None:
                continue
            cause = await asyncio.to_thread(self.outbox.check_writable)
            if cause is not None:
                continue
            log.info("the agent's outbox can be written again; taking jobs again")
            self._problem = None
            for execution_id in list(self._forget_later):
                self._forget_later.discard(execution_id)
                self._forget(execution_id)
            for execution_id, seq in list(self._acked_unstored.items()):
                self._acked(execution_id, seq)
            self._tell()
            self._beat_now.set()
            self._wake.set()
