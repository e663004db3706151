"""The event bus: named events with a JSON payload, and the triggers that subscribe to them.

Two kinds of trigger listen here:

- `event` triggers subscribe by name (and an optional filter expression over `event`) to what
  `POST /api/v1/events` publishes and to the orchestrator's own events: `execution.started`,
  `execution.succeeded`, `execution.failed`, `execution.timed_out`, `execution.cancelled`,
  `agent.online`, `agent.offline`, `trigger.failed`;
- `chain` triggers start their workflow when another one ends in a chosen state (key: the
  upstream execution's id, so a chain starts once per upstream execution).

A published event is fired before `POST /events` answers (each start stored with its event row).
The orchestrator's own events come from `services/execution_states.LISTENERS` after the commit
of the move; they are queued and fired by a task of their own, so the start and report paths
only append to a queue. Waiters (a webhook in `wait` mode) are woken from the same news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from orchestrator.db.session import Database, release
from orchestrator.models.executions import Execution
from orchestrator.models.triggers import Trigger
from orchestrator.runtime.hub import AgentLink
from orchestrator.services import execution_states
from orchestrator.triggers._fire import Fired, Firer, TriggerSpec
from orchestrator.triggers._kinds import filter_template
from shared.expressions import ExpressionError, compile_value

log = logging.getLogger("rpa.orchestrator.triggers")

QUEUE_SIZE = 100_000
SUBSCRIBERS_S = 2.0
"""How long the set of organisations with event or chain triggers is believed (a trigger made
in another process is heard of within this)."""


RECENT_ENDS = 4096
"""Ends kept for a wait that comes after them (a few seconds' worth at the measured rates)."""


@dataclass(frozen=True)
class Ended:
    """How an execution ended: its state, and its outputs when the end was heard with them
    (`execution_states.UNKNOWN` otherwise: read them from the database)."""

    state: str
    outputs: Any


@dataclass(frozen=True)
class Published:
    """What one event started, per trigger."""

    id: str
    name: str
    fired: list[tuple[uuid.UUID, Fired]] = field(default_factory=list)


class EventBus:
    """See the module docstring. `start()` runs the task that fires the orchestrator's events."""

    def __init__(self, db: Database, firer: Firer) -> None:
        self.db = db
        self.firer = firer
        self._news: asyncio.Queue[tuple[uuid.UUID, uuid.UUID, str]] = asyncio.Queue(QUEUE_SIZE)
        self._presence: asyncio.Queue[tuple[uuid.UUID, uuid.UUID, str, bool]] = asyncio.Queue(QUEUE_SIZE)
        self._waiters: dict[uuid.UUID, list[asyncio.Future[Ended]]] = {}
        self._recent: OrderedDict[uuid.UUID, Ended] = OrderedDict()
        """The states of the latest ends nobody waited for yet (`RECENT_ENDS` of them): an agent
        can run a short flow and report its end before the call that started it is waiting."""
        self._listening: tuple[float, frozenset[uuid.UUID]] = (0.0, frozenset())
        self._task: asyncio.Task[None] | None = None
        self._agents: asyncio.Task[None] | None = None
        self.dropped = 0

    # -- news of executions (called on the committing task: queue only) -----------------------

    def announce(
        self, execution_id: uuid.UUID, org_id: uuid.UUID, state: str, outputs: Any = execution_states.UNKNOWN
    ) -> None:
        if state != "running":
            ended = Ended(state, outputs)
            waiters = self._waiters.pop(execution_id, ())
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(ended)
            if not waiters:  # its state only: outputs can be large, a late wait reads them
                self._recent[execution_id] = Ended(state, execution_states.UNKNOWN)
                if len(self._recent) > RECENT_ENDS:
                    self._recent.popitem(last=False)
        try:
            self._news.put_nowait((execution_id, org_id, state))
        except asyncio.QueueFull:
            self.dropped += 1

    def presence(self, link: AgentLink, online: bool) -> None:
        """The hub's news of an agent's link (registered or forgotten): `agent.online` / `agent.offline`."""
        try:
            self._presence.put_nowait((link.agent_id, link.org_id, link.name, online))
        except asyncio.QueueFull:
            self.dropped += 1

    async def wait_for_end(self, execution_id: uuid.UUID, timeout_s: float, *, new: bool = False) -> Ended | None:
        """How the execution ended, if it did within `timeout_s` (heard here, or seen in the
        database when another process stored its end, looked for every second).

        Args:
            execution_id: the execution.
            timeout_s: how long to wait.
            new: the caller has just started it: its end is not looked for in the database before
                the first second has passed (an end this process commits is heard here).
        """
        heard = self._recent.pop(execution_id, None)
        if heard is not None:
            return heard
        future: asyncio.Future[Ended] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(execution_id, []).append(future)
        deadline = time.monotonic() + timeout_s
        look = not new
        try:
            while True:
                if look:
                    state = await self._ended(execution_id)
                    if state is not None:
                        return Ended(state, execution_states.UNKNOWN)
                look = True
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(future), min(left, 1.0))
        finally:
            waiters = self._waiters.get(execution_id)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[execution_id]

    async def _ended(self, execution_id: uuid.UUID) -> str | None:
        """The execution's state if it ended."""
        session = self.db.sessions()
        try:
            state = await session.scalar(select(Execution.state).where(Execution.id == execution_id))
        finally:
            await release(session)
        return state if state is not None and state in execution_states.TERMINAL else None

    # -- publishing ----------------------------------------------------------------------------

    async def publish(
        self, org_id: uuid.UUID, name: str, payload: dict[str, Any], event_id: str | None = None
    ) -> Published:
        """Fire every enabled `event` trigger of the organisation subscribed to `name` whose filter
        passes, each once per event id."""
        ident = event_id or str(uuid.uuid4())
        published = Published(ident, name)
        event = {"name": name, "id": ident, "payload": payload}
        for spec in await self._subscribers(org_id, "event"):
            if spec.config.get("name") != name:
                continue
            fired = await self.deliver(spec, event, seen=event_id is not None)
            published.fired.append((spec.id, fired))
        return published

    async def deliver(self, spec: TriggerSpec, event: dict[str, Any], *, seen: bool = True) -> Fired:
        """The event `{"name", "id", "payload"}` to one subscribed `event` trigger, once (key
        `name:id`): filtered, failed (a filter that cannot be evaluated) or started."""
        name = event["name"]
        key = f"{name}:{event['id']}"
        passed = _passes(spec.config.get("filter"), event)
        if isinstance(passed, str):
            fired = await self.firer.record(spec, key, "failed", error=passed)
        elif not passed:
            fired = await self.firer.record(spec, key, "filtered")
        else:
            fired = await self.firer.fire(spec, key, event, seen=seen, source="event")
        if fired.outcome == "failed" and fired.new and name != "trigger.failed":
            self._trigger_failed(spec, key, fired)
        return fired

    def _trigger_failed(self, spec: TriggerSpec, key: str, fired: Fired) -> None:
        payload = {"trigger_id": str(spec.id), "trigger_name": spec.name, "key": key, "error": fired.error}
        task = asyncio.create_task(self.publish(spec.org_id, "trigger.failed", payload, f"{spec.id}:{key}"))
        _KEEP.add(task)
        task.add_done_callback(_KEEP.discard)

    async def _subscribers(self, org_id: uuid.UUID, kind: str) -> list[TriggerSpec]:
        session = self.db.sessions()
        try:
            rows = await session.scalars(
                select(Trigger).where(Trigger.org_id == org_id, Trigger.kind == kind, Trigger.enabled.is_(True))
            )
            return [TriggerSpec.of(row) for row in rows]
        finally:
            await release(session)

    async def _listening_orgs(self) -> frozenset[uuid.UUID]:
        """Organisations with an enabled event or chain trigger (kept `SUBSCRIBERS_S`)."""
        at, orgs = self._listening
        if time.monotonic() - at < SUBSCRIBERS_S:
            return orgs
        session = self.db.sessions()
        try:
            found = await session.scalars(
                select(Trigger.org_id).where(Trigger.kind.in_(("event", "chain")), Trigger.enabled.is_(True)).distinct()
            )
            orgs = frozenset(found)
        finally:
            await release(session)
        self._listening = (time.monotonic(), orgs)
        return orgs

    # -- the orchestrator's own events -----------------------------------------------------------

    def start(self) -> None:
        execution_states.LISTENERS.append(self.announce)
        self._task = asyncio.create_task(self._drain(), name="trigger-bus")
        self._agents = asyncio.create_task(self._drain_presence(), name="trigger-bus-agents")

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            execution_states.LISTENERS.remove(self.announce)
        for task in (self._task, self._agents):
            if task is not None:
                task.cancel()
                await asyncio.wait({task}, timeout=5.0)

    async def _drain(self) -> None:
        while True:
            news = [await self._news.get()]
            while not self._news.empty() and len(news) < 500:
                news.append(self._news.get_nowait())
            try:
                await self._handle(news)
            except Exception:  # the bus goes on; the failure is in the log
                log.exception("the trigger bus could not handle %d execution events", len(news))

    async def _drain_presence(self) -> None:
        while True:
            agent_id, org_id, name, online = await self._presence.get()
            if org_id not in await self._listening_orgs():
                continue
            event = "agent.online" if online else "agent.offline"
            # One event per connection change: a reconnect is a new online event.
            ident = f"{agent_id}:{event}:{time.time_ns()}"
            try:
                await self.publish(org_id, event, {"agent_id": str(agent_id), "name": name}, ident)
            except Exception:  # the bus goes on; the failure is in the log
                log.exception("the trigger bus could not publish %s", event)

    async def _handle(self, news: Iterable[tuple[uuid.UUID, uuid.UUID, str]]) -> None:
        orgs = await self._listening_orgs()
        wanted = [item for item in news if item[1] in orgs]
        if not wanted:
            return
        for execution in await self.executions([item[0] for item in wanted]):
            payload = news_payload(execution)
            for _, _, announced in (item for item in wanted if item[0] == execution.id):
                await self.publish(execution.org_id, news_name(announced), payload, f"{execution.id}:{announced}")
                if announced != "running":
                    await self._chain(execution, announced, payload)

    async def executions(self, ids: list[uuid.UUID]) -> list[Execution]:
        """The executions `ids` (those that still exist)."""
        session = self.db.sessions()
        try:
            return list(await session.scalars(select(Execution).where(Execution.id.in_(ids))))
        finally:
            await release(session)

    async def _chain(self, execution: Execution, state: str, payload: dict[str, Any]) -> None:
        for spec in await self._subscribers(execution.org_id, "chain"):
            if spec.config.get("after_workflow") == str(execution.workflow_id) and state in spec.config.get(
                "statuses", ()
            ):
                await self.firer.fire(spec, str(execution.id), payload, source="chain")


_KEEP: set[asyncio.Task[Any]] = set()


def news_name(state: str) -> str:
    """The bus event of an execution's move to `state` (`running`: `execution.started`)."""
    return "execution.started" if state == "running" else f"execution.{state}"


def news_payload(execution: Execution) -> dict[str, Any]:
    """What an `execution.*` event and a chain trigger read as `event` (`payload` for the former)."""
    return {
        "execution_id": str(execution.id),
        "workflow_id": str(execution.workflow_id),
        "workflow_name": execution.workflow_name,
        "state": execution.state,
        "outputs": execution.outputs,
        "error": execution.error,
        "trigger_type": execution.trigger_type,
    }


def _passes(expression: str | None, event: dict[str, Any]) -> bool | str:
    """Whether the event passes the filter; a string says why the filter failed."""
    if not expression:
        return True
    try:
        return bool(compile_value(filter_template(expression))({"event": event}))
    except ExpressionError as exc:
        return f"filter: {exc.message}"
