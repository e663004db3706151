"""A `job.assign` lost on the wire, for real: a TCP proxy between a real agent and a real
orchestrator cuts the connection at the moment the job passes, so the assignment is committed but
never arrives. The agent reconnects well within the grace and is idle; the orchestrator must see
from its `hello` that the agent does not hold the job, and requeue it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.e2e._cluster import Agent, Orchestrator, wait_for
from tests.e2e.test_dispatch_e2e import batch_flow
from tests.e2e.test_faults_e2e import CuttingProxy, _check, _reference

pytestmark = pytest.mark.slow


class AssignDroppingProxy(CuttingProxy):
    """A `CuttingProxy` that, while `armed`, cuts every connection instead of passing on the
    orchestrator's bytes that carry a `job.assign` (frames are not compressed by default)."""

    MARKER = b'"type":"job.assign"'

    def __init__(self, target_port: int) -> None:
        self.armed = False
        self.dropped = 0
        super().__init__(target_port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        ends = (writer, up_writer)
        self._writers |= set(ends)

        def abort() -> None:
            for end in ends:
                with contextlib.suppress(Exception):
                    end.transport.abort()

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, downstream: bool) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    if downstream and self.armed and self.MARKER in data:
                        self.armed = False
                        self.dropped += 1
                        break  # the job dies with the connection
                    sink.write(data)
                    await sink.drain()
            abort()

        await asyncio.gather(pipe(reader, up_writer, downstream=False), pipe(up_reader, writer, downstream=True))
        self._writers -= set(ends)
        for end in ends:
            with contextlib.suppress(Exception):
                end.close()


def test_a_job_assign_lost_to_a_cut_is_requeued_when_the_agent_says_hello_again(tmp_path: Path) -> None:
    # A grace far longer than the test: only the reconciliation of the agent's hello can requeue it
    # (and a confirmation bound far longer too, so the periodic check does not do it instead).
    server = Orchestrator(tmp_path, grace_s=300.0)
    server.env["RPA_ASSIGN_TIMEOUT_S"] = "300"
    proxy: AssignDroppingProxy | None = None
    agent: Agent | None = None
    try:
        server.start()
        server.setup_owner()
        proxy = AssignDroppingProxy(server.port)
        agent = Agent(tmp_path, server, "idle", url=f"http://127.0.0.1:{proxy.port}")
        agent.start()
        agent.wait_online()
        expected = _reference(server, items=3)  # control: a job passes the proxy and runs
        workflow = server.publish(batch_flow(pause_s=0.01, probe=True))
        proxy.armed = True
        execution = server.start_execution(workflow, inputs={"items": 3})
        wait_for(lambda: proxy is not None and proxy.dropped == 1, 20, "the job.assign to be dropped")
        done = _check(server, execution, expected, reruns=0)
        assert done["attempt"] == 2  # requeued once, then run by the same agent
        moves = [
            (t["from_state"], t["to_state"], t["reason"])
            for t in server.api("GET", f"/executions/{execution}/transitions")["items"]
        ]
        assert [(f, t) for f, t, _ in moves] == [
            (None, "queued"),
            ("queued", "assigned"),
            ("assigned", "lost"),
            ("lost", "queued"),
            ("queued", "assigned"),
            ("assigned", "running"),
            ("running", "succeeded"),
        ]
        assert "agent idle reconnected without it" in moves[2][2]
    finally:
        if proxy is not None:
            proxy.close()
        if agent is not None:
            agent.stop()
        server.stop()
