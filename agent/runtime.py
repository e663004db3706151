"""The headless agent: one WebSocket to the orchestrator, jobs run by the engine, journals
streamed through the local outbox.

    connect (backoff with jitter) → hello (jobs still in the outbox) → welcome (stop what moved,
      go on under a new attempt with what was requeued meanwhile but taken by nobody)
      ├─ heartbeat every `welcome.heartbeat_interval_s`
      ├─ sender: every unacknowledged outbox event, in batches, then `job.finished`
      └─ receiver: job.assign / job.cancel / job.stop / journal.ack / heartbeat.ack / error

Every event is on disk (outbox) before it is sent and stays there until acknowledged; after a
reconnect the sender starts again from the last acknowledgement, and the orchestrator ignores
duplicates. A job left unfinished by an earlier process of this agent is not resumed here (its
secrets were never written to disk): once its journal is acknowledged the agent rejects it, and the
orchestrator requeues it with that journal, to this agent or another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.environment import allowed_env
from agent.outbox import JobRecord, Outbox
from shared.engine import Engine, Event
from shared.errors import FlowLoadError
from shared.flow import Flow
from shared.protocol import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    AgentConnection,
    ErrorMessage,
    Heartbeat,
    HeartbeatAck,
    JobAccepted,
    JobAssign,
    JobCancel,
    JobFinished,
    JobRejected,
    JobStop,
    JournalAck,
    JournalBatch,
    ProtocolError,
    RunningJob,
    Welcome,
    WireEvent,
    encode,
)
from shared.steps import StepRegistry

log = logging.getLogger("rpa.agent")

BATCH = 500


class SubflowLoader:
    """`flow.call` references resolved from the sub-flows a job carries."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self._flows: dict[str, Flow] = {}

    def load(self, reference: str, caller: Flow) -> Flow:
        if reference not in self._flows:
            document = self.documents.get(reference)
            if document is None:
                raise FlowLoadError(f"the job carries no sub-flow '{reference}'")
            self._flows[reference] = Flow.model_validate(document)
        return self._flows[reference]


@dataclass
class AgentConfig:
    url: str
    key: str
    name: str
    home: Path
    labels: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    max_jobs: int = 1
    version: str = "0.0.0"
    backoff_min_s: float = 0.2
    backoff_max_s: float = 10.0
    env_allowlist: list[str] = field(default_factory=list)
    """The environment variables flows may read as `env.*` (`agent/environment.py`); none by default."""
    key_source: Callable[[], str] | None = None
    """Reads the key stored on this machine again before each connection attempt, so a key installed
    with `rpa agent set-key` (after a rotation) is used without restarting the agent."""


class AgentRuntime:
    """Runs until cancelled; reconnects forever."""

    def __init__(self, config: AgentConfig, *, registry: StepRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or StepRegistry.default()
        config.home.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(config.home / "outbox.db")
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self._engines: dict[str, Engine] = {}
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._ws: Any = None
        self._sent: dict[str, int] = {}
        self._finish_sent: set[str] = set()
        self._orphans: set[str] = set()
        self.rtts: list[float] = []
        self.protocol_version = PROTOCOL_VERSION
        """What the next connection speaks: the newest, or an older one an orchestrator asked for."""
        self._again_now = False

    # --- connection loop ------------------------------------------------------------------------

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        delay = self.config.backoff_min_s
        url = self.config.url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        while True:
            self._reload_key()
            try:
                async with connect(f"{url}/api/v1/agents/connect", max_size=8 * 1024 * 1024,
                                   additional_headers={"Authorization": f"Bearer {self.config.key}"},
                                   open_timeout=10, ping_interval=None) as ws:
                    if await self._session(ws):
                        delay = self.config.backoff_min_s
                        self.protocol_version = PROTOCOL_VERSION  # the orchestrator may be upgraded by then
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidStatus, TimeoutError) as exc:
                log.info("connection to %s lost or refused (%s)", url, type(exc).__name__)
            except ProtocolError as exc:
                log.error("the orchestrator sent something this agent cannot read: %s", exc.message)
            finally:
                self.connected.clear()
                self._ws = None
            if self._again_now:
                self._again_now = False
                continue
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # jitter: agents do not reconnect in step
            delay = min(delay * 2, self.config.backoff_max_s)

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

    async def _session(self, ws: Any) -> bool:
        """One connection, from hello to close; True once it got as far as a welcome."""
        connection = AgentConnection(self.config.name, self.config.version, self.config.capabilities,
                                     self.config.labels, self.config.max_jobs, sorted(d.name for d in self.registry),
                                     protocol_version=self.protocol_version)
        pending = self.outbox.pending_jobs()
        await ws.send(encode(connection.hello([RunningJob(execution_id=j.execution_id, attempt=j.attempt,
                                                          last_seq=j.last_seq) for j in pending])))
        welcome = connection.receive(await ws.recv())
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
                         if j.execution_id not in welcome.stop and j.execution_id not in self.tasks and not j.finished}
        self._ws, self._sent, self._finish_sent = ws, {}, set()
        self.connected.set()
        self._wake.set()
        workers = [asyncio.create_task(self._heartbeats(ws, connection.heartbeat_interval_s)),
                   asyncio.create_task(self._sender(ws))]
        try:
            async for raw in ws:
                await self._handle(connection.receive(raw))
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
        return True

    async def _send(self, message: Any) -> None:
        ws = self._ws
        if ws is not None:
            await ws.send(encode(message))

    async def _heartbeats(self, ws: Any, interval: float) -> None:
        while True:
            await ws.send(encode(Heartbeat(running=sorted(self.tasks), sent_at=time.time())))
            await asyncio.sleep(interval)

    # --- messages from the orchestrator -----------------------------------------------------------

    async def _handle(self, message: Any) -> None:
        if isinstance(message, JobAssign):
            await self._assign(message)
        elif isinstance(message, JournalAck):
            self._acked(message.execution_id, message.seq)
        elif isinstance(message, JobCancel):
            log.info("cancel asked for %s (%s)", message.execution_id, message.reason)
            engine = self._engines.get(message.execution_id)
            if (engine is None or not engine.cancel(message.execution_id)) and message.force:
                self._drop(message.execution_id)
        elif isinstance(message, JobStop):
            log.info("execution %s moved (%s); stopping it here", message.execution_id, message.reason)
            self._drop(message.execution_id)
        elif isinstance(message, HeartbeatAck):
            self.rtts.append(time.time() - message.server_time)
        elif isinstance(message, ErrorMessage):
            log.error("orchestrator: %s (%s)", message.message, message.code)

    async def _assign(self, job: JobAssign) -> None:
        if len(self.tasks) >= self.config.max_jobs or job.execution_id in self.tasks:
            await self._send(JobRejected(execution_id=job.execution_id, attempt=job.attempt,
                                         reason=f"this agent runs {len(self.tasks)} of {self.config.max_jobs} jobs"))
            return
        try:
            flow = Flow.model_validate(job.flow)
        except Exception as exc:  # a version the orchestrator validated, from a newer format
            await self._send(JobRejected(execution_id=job.execution_id, attempt=job.attempt,
                                         reason=f"this agent cannot read the flow: {str(exc)[:300]}"))
            return
        seed = [event.to_event() for event in job.journal]
        journal = self.outbox.open_job(job.execution_id, job.attempt, job.model_dump(exclude={"secrets"}), seed)
        loop = asyncio.get_running_loop()
        journal.subscribe(lambda _batch: loop.call_soon_threadsafe(self._wake.set))
        self._orphans.discard(job.execution_id)
        await self._send(JobAccepted(execution_id=job.execution_id, attempt=job.attempt))
        self.tasks[job.execution_id] = asyncio.create_task(self._run_job(job, flow, journal))

    async def _run_job(self, job: JobAssign, flow: Flow, journal: Any) -> None:
        secrets = dict(job.secrets)
        engine = Engine(self.registry, loader=SubflowLoader(job.subflows), secrets=secrets.get,
                        env=allowed_env(self.config.env_allowlist),
                        artifacts_dir=self.config.home / "artifacts")  # files land in artifacts/<execution id>/
        self._engines[job.execution_id] = engine
        try:
            await engine.run(flow, job.inputs, journal=journal)
            await self._upload_artifacts(job.execution_id)
            self.outbox.mark_finished(job.execution_id)
        except asyncio.CancelledError:
            pass  # stopped (moved elsewhere, or the agent is stopping): the journal stays open
        except Exception:
            log.exception("execution %s could not run", job.execution_id)
        finally:
            self.tasks.pop(job.execution_id, None)
            self._engines.pop(job.execution_id, None)
            self._wake.set()

    async def _upload_artifacts(self, execution_id: str) -> int:
        """Upload every file the execution left in its artifacts folder (streamed); returns how
        many were stored. A failed upload is logged, never fatal to the execution."""
        import httpx

        folder = self.config.home / "artifacts" / execution_id
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        if not files:
            return 0
        url = f"{self.config.url.rstrip('/')}/api/v1/agents/me/artifacts/{execution_id}"
        stored = 0
        async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {self.config.key}"}) as http:
            for path in files:
                name = path.relative_to(folder).as_posix()
                for attempt in range(3):
                    try:
                        response = await http.put(url, params={"name": name}, content=_chunks(path),
                                                  headers={"Content-Type": _content_type(path)})
                    except httpx.HTTPError as exc:
                        log.warning("upload of artifact %s failed (%s); attempt %d", name, type(exc).__name__,
                                    attempt + 1)
                        await asyncio.sleep(0.5 * (attempt + 1))
                        continue
                    if response.status_code == 201:
                        stored += 1
                    else:
                        log.warning("the orchestrator refused artifact %s: HTTP %s", name, response.status_code)
                    break
        return stored

    def _drop(self, execution_id: str) -> None:
        """Stop running an execution here without ending it, and forget its local journal."""
        task = self.tasks.pop(execution_id, None)
        if task is not None:
            task.cancel()
        self._orphans.discard(execution_id)
        self.outbox.forget(execution_id, force=True)

    def _acked(self, execution_id: str, seq: int) -> None:
        acked = self.outbox.ack(execution_id, seq)
        record = self.outbox.job(execution_id)
        if acked is None or record is None:
            return
        if record.finished and record.fully_acked and execution_id in self._finish_sent:
            self.outbox.forget(execution_id)
        self._wake.set()

    # --- the sender -------------------------------------------------------------------------------

    async def _sender(self, ws: Any) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for record in self.outbox.pending_jobs():
                await self._flush(ws, record)

    async def _flush(self, ws: Any, record: JobRecord) -> None:
        execution_id = record.execution_id
        sent = max(self._sent.get(execution_id, 0), record.acked_seq)
        while sent < record.last_seq:
            events = [e for e in self.outbox.unacked(execution_id, BATCH * 2) if e.seq > sent][:BATCH]
            if not events:
                break
            await ws.send(encode(JournalBatch(execution_id=execution_id, attempt=record.attempt,
                                              events=[WireEvent.from_event(e) for e in events])))
            sent = self._sent[execution_id] = events[-1].seq
        if record.finished and execution_id not in self._finish_sent and sent >= record.last_seq:
            end = _finished_event(self.outbox, execution_id)
            data = end.data if end is not None else {"status": "failed", "outputs": {}, "error": None}
            await ws.send(encode(JobFinished(execution_id=execution_id, attempt=record.attempt,
                                             status=data["status"], outputs=data.get("outputs") or {},
                                             error=data.get("error"), last_seq=record.last_seq)))
            self._finish_sent.add(execution_id)
        elif execution_id in self._orphans and record.fully_acked:
            await ws.send(encode(JobRejected(execution_id=execution_id, attempt=record.attempt,
                                             reason="the agent restarted; resume it from its journal")))
            self._orphans.discard(execution_id)
            self.outbox.forget(execution_id, force=True)


async def _chunks(path: Path, size: int = 256 * 1024) -> Any:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _content_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _finished_event(outbox: Outbox, execution_id: str) -> Event | None:
    record = outbox.job(execution_id)
    if record is None or record.last_seq == 0:
        return None
    found = [e for e in outbox.events(execution_id, after_seq=max(0, record.last_seq - 5))
             if e.type == "execution.finished"]
    return found[-1] if found else None


__all__ = ["PROTOCOL_VERSION", "AgentConfig", "AgentRuntime", "SubflowLoader"]
