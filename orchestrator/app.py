"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orchestrator.api import body_limit, direct_start, errors
from orchestrator.api.agent_door import AgentSocketDoor, HandshakeMetrics
from orchestrator.api.body_limit import BodyLimitMiddleware
from orchestrator.api.direct_hook import DirectHook
from orchestrator.api.direct_start import DirectStart
from orchestrator.api.middleware import Metrics, RequestContextMiddleware
from orchestrator.api.ratelimit import RateLimitMiddleware
from orchestrator.api.route_table import add_flat
from orchestrator.api.routes import ROUTERS, agent_socket, agent_uploads, health
from orchestrator.api.security_headers import AccessGateMiddleware, SecurityHeadersMiddleware
from orchestrator.db.group_commit import CommitLoop
from orchestrator.db.migrate import upgrade
from orchestrator.db.read_cache import AUTH_TABLES, PIN_TABLES, ReadCache
from orchestrator.db.session import Database
from orchestrator.gc_policy import during_storm
from orchestrator.logging import install as install_log_masking
from orchestrator.runtime import admission
from orchestrator.runtime.admission import HandshakeGate
from orchestrator.runtime.agent_writer import AgentWriter
from orchestrator.runtime.artifact_purger import ArtifactPurger
from orchestrator.runtime.checkpoints import CheckpointWriter
from orchestrator.runtime.dispatch import Dispatcher
from orchestrator.runtime.hub import AgentHub
from orchestrator.runtime.leases import LeaseReaper
from orchestrator.security import audit_keys
from orchestrator.services import vault_keys
from orchestrator.services.artifacts import artifact_store
from orchestrator.services.audit_checkpoints import checkpoint_dir
from orchestrator.services.roles import ensure_builtin_roles
from orchestrator.services.session_checkpoints import SessionCheckpoints
from orchestrator.services.start_writer import StartWriter
from orchestrator.settings import Settings
from orchestrator.triggers import EventBus, Firer, HookCache, TriggerRunner, VaultKeys, register_shipped

API_PREFIX = "/api/v1"

log = logging.getLogger("rpa.orchestrator.agents")


class _StormLog:
    """Says when an agents' reconnect storm begins and ends, with what the gate did meanwhile, and
    defers full garbage collections for it (if `rpa orchestrator` installed its policy)."""

    def __init__(self, gate: HandshakeGate) -> None:
        self.gate = gate
        self.began = (0, 0, 0)

    def __call__(self, active: bool) -> None:
        if active:
            self.began = (self.gate.admitted, self.gate.refused + self.gate.refused_late, self.gate.refused_late)
            log.warning(
                "agents are reconnecting in a storm: handshakes queue, and those that would wait too long "
                "are answered 503 with a turn to come back at"
            )
        else:
            log.info(
                "the agents' reconnect storm is over: %d handshake places given, %d connections answered 503 "
                "(%d of them after waiting in the queue in vain; admitting %.0f handshakes/s, a place held "
                "%.1f ms on average)",
                self.gate.admitted - self.began[0],
                self.gate.refused + self.gate.refused_late - self.began[1],
                self.gate.refused_late - self.began[2],
                self.gate.rate,
                self.gate.hold_s * 1000,
            )
        during_storm(active)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Start-up creates the data dir and secrets if needed, applies migrations and
    seeds the built-in roles."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        signing_key, master_key = settings.ensure_secrets()
        url = settings.resolved_database_url
        await upgrade(url)
        db = Database(url, echo=settings.sql_echo)
        app.state.db = db
        app.state.auth_cache = ReadCache(db, AUTH_TABLES, settings.read_cache_s)
        app.state.pin_cache = ReadCache(db, PIN_TABLES, settings.read_cache_s)
        app.state.signing_key = signing_key
        app.state.master_key = master_key
        keys = audit_keys.configure(vault_keys.keyring_for(settings, master_key))
        async with db.transaction() as session:
            await ensure_builtin_roles(session)
        install_log_masking()  # uvicorn has set up its handlers by now
        hub = AgentHub(heartbeat_interval_s=settings.heartbeat_interval_s, missed_heartbeats=settings.missed_heartbeats)
        # One loop of group commits: the starts of requests, the reports of agents and the
        # dispatcher's pass that arrive together share a transaction (db/group_commit.py).
        commits = CommitLoop(db)
        dispatcher = Dispatcher(db, hub, lambda: vault_keys.keyring_for(settings, master_key), commits=commits)
        hub.on_free = dispatcher.kick  # an agent that connects or frees a slot may take what waits
        reaper = LeaseReaper(
            db,
            hub,
            grace_s=settings.agent_grace_s,
            cancel_grace_s=settings.cancel_grace_s,
            assign_timeout_s=settings.assign_timeout_s,
            margin_s=settings.lease_margin,
        )
        purger = ArtifactPurger(
            db,
            artifact_store(settings),
            default_days=settings.artifact_retention_days,
            interval_s=settings.artifact_purge_interval_s,
        )
        # The sealed state of executions' open sessions, for a resume elsewhere (artifact store, reserved namespace).
        session_checkpoints = SessionCheckpoints(db, artifact_store(settings), dispatcher.keyring)
        dispatcher.checkpoints = purger.session_checkpoints = app.state.session_checkpoints = session_checkpoints
        writer = AgentWriter(db, loop=commits)
        starts = StartWriter(db, loop=commits, on_queued=lambda: dispatcher.kick(work=True))
        app.state.agent_hub, app.state.dispatcher, app.state.agent_writer = hub, dispatcher, writer
        app.state.start_writer = starts
        # Triggers: one event, one execution (orchestrator/triggers); schedules and sources run
        # where their lease is held, webhooks, events and chains wherever they arrive.
        register_shipped()  # the e-mail, files and database sources, and plugins' (rpa.trigger_sources)
        firer = Firer(db, starts, app.state.pin_cache)
        trigger_secrets = VaultKeys(db, lambda: vault_keys.keyring_for(settings, master_key))
        bus = EventBus(db, firer)
        hub.on_presence = bus.presence  # agent.online / agent.offline on the bus
        runner = TriggerRunner(
            db,
            firer,
            secrets=trigger_secrets.reader,
            hub=hub,
            bus=bus,
            store=artifact_store(settings),
            lease_s=settings.trigger_lease_s,
            tick_s=settings.trigger_tick_s,
            events_kept=settings.trigger_events_kept,
        )
        app.state.trigger_firer, app.state.trigger_bus, app.state.trigger_runner = firer, bus, runner
        app.state.trigger_secrets = trigger_secrets
        app.state.hook_cache = HookCache(db, settings.read_cache_s)
        app.state.lease_reaper = reaper
        app.state.artifact_purger = purger
        # How many agent handshakes do their database work at once (api/routes/agent_socket.py).
        app.state.agent_handshake_gate = HandshakeGate(
            settings.agent_handshakes,
            queue=settings.agent_handshake_queue,
            max_wait_s=settings.agent_handshake_wait_s,
            retry_max_s=settings.agent_handshake_retry_max_s,
        )
        # A storm defers full garbage collections (if `rpa orchestrator` installed its policy).
        app.state.agent_handshake_gate.on_storm = _StormLog(app.state.agent_handshake_gate)
        checkpoints = CheckpointWriter(db, checkpoint_dir(settings.data_dir), keys.current, settings.audit_checkpoint_s)
        await checkpoints.write()  # chains written by commands while the server was down
        commits.start()
        reaper.start()
        purger.start()
        checkpoints.start()
        dispatcher.kick()  # executions queued before this start
        bus.start()
        if settings.triggers_run:
            runner.start()
        storm_watch = asyncio.create_task(admission.watch(app.state.agent_handshake_gate))
        try:
            yield
        finally:
            storm_watch.cancel()
            await runner.stop()
            await bus.stop()
            during_storm(False)
            await checkpoints.stop()
            await purger.stop()
            await reaper.stop()
            await commits.stop()
            for link in list(hub.links.values()):
                await hub.disconnect(link.agent_id, reason="the orchestrator is stopping", code=1001)
            await db.dispose()

    app = FastAPI(
        title="RPA Orchestrator",
        version="0.1.0",
        description="Workflows, executions, credentials and audit for the RPA suite.",
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.metrics.registry.register(HandshakeMetrics(app))
    errors.install(app)
    body_limit.install(app)
    add_flat(app, [health.router])
    add_flat(app, [*ROUTERS, agent_socket.router, agent_uploads.router], prefix=API_PREFIX)
    # Innermost of the app's own middleware: a start it answers was counted and rate-limited.
    app.add_middleware(DirectStart, route=direct_start.route_of(app, API_PREFIX + "/executions"))
    app.add_middleware(DirectHook, route=direct_start.route_of(app, API_PREFIX + "/hooks/{token}"))
    app.add_middleware(RateLimitMiddleware)  # inside the request context: a 429 has a request id and is counted
    # Before anything reads a body: an oversized one is refused from its length or as it streams.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(AccessGateMiddleware)  # the docs and metrics gates, with a request id
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    # Outermost: every answer carries them, a 413, a 429 or a 500 included.
    app.add_middleware(SecurityHeadersMiddleware)
    # Outside everything: an agent connection is refused before any of it runs, or skips it all
    # (none of it does anything for a WebSocket) and the route table with it.
    app.add_middleware(AgentSocketDoor, path=API_PREFIX + "/agents/connect")
    return app
