#!/usr/bin/env python3
"""Dispatch benchmark: connected agents, execution throughput and resume time, over real sockets.

    .venv/bin/python bench/dispatch.py [--databases sqlite,postgres] [--agents 1000,5000,10000] [--seconds 60]
                                       [--executions 2000] [--jobs-per-agent 4] [--dead-machine] [--quick]
                                       [--scenarios connected,throughput,resume,storm] [--storm-agents 10000]
                                       [--storm-handshakes 16,100000]
                                       [--out bench/results/dispatch.json]
    .venv/bin/python bench/dispatch.py --render bench/results/dispatch.json [--markdown]

Each scenario gets a fresh data dir (for PostgreSQL a fresh database in one throwaway server from
`tests/postgres.py`), `rpa admin create`, and the orchestrator as `rpa orchestrator` in a child process
(uvicorn, `ws=websockets-sansio`), started by `cli.supervise.LocalOrchestrator`.

1. Connected agents: N agent rows are inserted straight into the database, their keys made by
   `orchestrator.runtime.enrolment.new_agent_key` as enrolment does. This process then opens N WebSockets
   with the real agent's client settings (at most 200 handshakes in flight), sends hello, waits for
   welcome, and from then on heartbeats every `RPA_HEARTBEAT_INTERVAL_S` (10 s; as in welcome) from a
   random phase. Once all are connected, for `--seconds`, each heartbeat → heartbeat.ack round trip is
   timed (matched by `ref`). The server's RSS is sampled every 0.5 s (peak); its CPU, and this
   process's, are measured over that window.
2. Throughput: 50 simulated agents (`--jobs-per-agent` slots each), a published one-step flow
   (`core.noop`), 20 untimed warm-up executions, then `--clients` keep-alive connections (64, as many
   as the paced run's; raw HTTP/1.1 with requests built once, `_dispatch_load.RawHttp`) POST
   `--executions` executions as fast as they can. Each client waits for
   its answer before the next start, so the flood can complete at most clients ÷ POST latency starts a
   second: with 16 clients and a 46 ms POST that cap was 348/s while the server could do more.
   On job.assign an agent sends job.accepted, one journal batch with the 4 events a real one-step run
   journals, waits for the journal.ack, sends job.finished and waits for its ack; these frames are
   plain JSON checked once against the protocol (`_dispatch_load`). Dispatch latency: from sending
   the POST to the agent receiving job.assign (one process, `perf_counter`). Executions/s: from the
   first POST to the last finished job. That flood measures
   the most the server completes; its dispatch latency is mostly the backlog it builds. Then 50
   executions one at a time give the dispatch latency without a queue, and the same number again at
   a fixed rate (`--rate`, 500/s; open loop on 64 connections: each start is sent when due, answered
   or not) give it at that load, timed from when each start was due; the server's and this process's
   CPU over that run, and how late this process woke to send each start (its own event loop busy with
   the agents and the other clients: lateness that counts in the dispatch latency but is not the
   server's), are kept with it. The states are then counted
   through the API. The target needs both: ≥ 500/s in the flood, and p99 < 50 ms while keeping up
   with 500/s.
3. Resume time: two real `rpa agent` processes; a loop of `core.wait` steps starts, and once two
   iterations are journaled the holding agent gets SIGKILL (or SIGSTOP: a dead machine, which only
   missed heartbeats reveal). Measured: the time until a node.started journaled by the other agent shows
   in GET /executions/{id}/events (polled every 50 ms), and from the server's history when it declared
   the execution lost and reassigned it.

4. Reconnect storm (`bench/_dispatch_storm.py`): N connected agents, the orchestrator restarted, all
   reconnecting at once with the real agent's backoff while a prober reads the API; the API read p99
   over the storm against 250 ms.

Every simulated agent heartbeats as a real one does, in every scenario. The benchmark process (all the
simulated agents) and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _dispatch_load import JobFrames, RawHttp, post_request  # noqa: E402  (bench/ is on sys.path)
from _dispatch_parts import (  # noqa: E402  (bench/ is on sys.path when this runs as a script)
    API,
    DEFAULT_OUT,
    EMAIL,
    NOOP_FLOW,
    ORG,
    PASSWORD,
    RESUME_ITEMS,
    RESUME_PAUSE_S,
    STATES,
    TARGET_EPS,
    THROUGHPUT_AGENTS,
    UNLOADED,
    WARMUP,
    Sampler,
    SimAgent,
    Stats,
    Store,
    _login,
    _ms,
    _pct,
    _why,
    admin_create,
    connect_all,
    in_batches,
    log_problems,
    seed_agents,
    start,
)
from _dispatch_report import render  # noqa: E402  (bench/ is on sys.path when this runs as a script)
from _dispatch_storm import bench_storm  # noqa: E402  (bench/ is on sys.path when this runs as a script)

from cli.supervise import LocalAgent, LocalOrchestrator, wait_for  # noqa: E402
from shared.states import TERMINAL_STATES  # noqa: E402

# -- scenario 1: connected agents ------------------------------------------------------------------


async def drive_connected(
    orch: LocalOrchestrator, keys: list[str], sampler: Sampler, args: argparse.Namespace
) -> dict[str, Any]:
    stats = Stats()
    began = time.perf_counter()
    agents, seconds, failures = await connect_all(
        [SimAgent(k, f"sim-{i:05d}", stats) for i, k in enumerate(keys)], orch
    )
    connect_s = time.perf_counter() - began
    print(
        f"    {len(agents):,}/{len(keys):,} connected in {connect_s:.1f} s"
        + (f"; failures: {dict(failures.most_common(3))}" if failures else ""),
        flush=True,
    )
    # The simulated agents stand in for 10,000 machines: this one process's collector pausing over all
    # their sockets is not something a real agent sees, so their objects are frozen out of its way.
    gc.collect()
    gc.freeze()
    # The heartbeats that fell due during that collection go out together: let the burst pass
    # before the window opens (it measures the steady state, not this process's own pause).
    await asyncio.sleep(3)
    client_pauses: list[float] = []
    watch = _gc_watch(client_pauses)
    gc.callbacks.append(watch)
    mark = sampler.mark()
    stats.window = (mark[0], mark[0] + args.seconds)
    await asyncio.sleep(args.seconds)
    cpu = sampler.cpu_since(mark)
    gc.callbacks.remove(watch)
    await asyncio.sleep(2)  # the last acks
    lost = sum(measured for agent in agents for _, measured in agent.pending.values())
    closed = dict(stats.closed)
    row: dict[str, Any] = {"online_per_api": None}
    try:
        async with httpx.AsyncClient(base_url=orch.url, timeout=60) as http:
            auth, t0 = await _login(http), time.perf_counter()
            page = await http.get(API + "/agents", params={"status": "online", "limit": 1}, headers=auth)
            row.update(online_per_api=page.json().get("total"), agents_list_ms=_ms(time.perf_counter() - t0))
    except Exception as error:
        stats.errors.append(f"GET /agents: {_why(error)}")
    began = time.perf_counter()
    await in_batches([agent.close() for agent in agents], 500)
    gc.unfreeze()
    return {
        **row,
        "agents": len(keys),
        "connected": len(agents),
        "connect_s": round(connect_s, 2),
        "connects_per_s": round(len(agents) / connect_s, 1),
        "connect_p50_ms": _ms(_pct(seconds, 0.5)),
        "connect_p99_ms": _ms(_pct(seconds, 0.99)),
        "connect_failures": dict(failures),
        "seconds": args.seconds,
        "heartbeats": stats.heartbeats,
        "acks": len(stats.rtts),
        "heartbeats_per_s": round(stats.heartbeats / args.seconds, 1),
        "expected_heartbeats_per_s": round(len(agents) / args.interval, 1),
        "rtt_p50_ms": _ms(_pct(stats.rtts, 0.5)),
        "rtt_p99_ms": _ms(_pct(stats.rtts, 0.99)),
        "rtt_max_ms": _ms(max(stats.rtts, default=None)),
        "lost_acks": lost,
        "closed_during_run": closed,
        "other_errors": stats.errors[:10],
        "close_all_s": round(time.perf_counter() - began, 2),
        **cpu,
        "slow_heartbeats": [
            (dt.datetime.fromtimestamp(at).strftime("%H:%M:%S.%f")[:-3], _ms(rtt)) for at, rtt in sorted(stats.slowest)
        ][:200],
        "client_full_gcs": len(client_pauses),
        "client_gc_max_ms": _ms(max(client_pauses, default=None)),
        "errors": sum(failures.values()) + lost + sum(closed.values()) + len(stats.errors),
    }


def _gc_watch(pauses: list[float]) -> Any:
    started = [0.0]

    def watch(phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") == 2:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append(time.perf_counter() - started[0])

    return watch


def bench_connected(store: Store, args: argparse.Namespace) -> list[dict[str, Any]]:
    orch, url = store.fresh("connected", RPA_HEARTBEAT_INTERVAL_S=f"{args.interval:g}")
    admin_create(orch)
    began = time.perf_counter()
    keys = asyncio.run(seed_agents(url, max(args.agents)))
    print(f"  connected agents: seeded {len(keys):,} agents in {time.perf_counter() - began:.1f} s", flush=True)
    rows = []
    for count in args.agents:
        offset = orch.log.stat().st_size if orch.log.exists() else 0
        start(orch)
        sampler = Sampler(orch.process.pid)  # type: ignore[union-attr]
        try:
            row = asyncio.run(drive_connected(orch, keys[:count], sampler, args))
        except Exception as error:
            row = {"agents": count, "connected": None, "errors": 1, "failed": _why(error)}
        finally:
            memory = sampler.stop()
            orch.stop(timeout=60)
        row.update(
            memory,
            server_log=log_problems(orch.log, offset),
            kib_per_agent=round(
                (memory["server_rss_peak_mib"] - memory["server_rss_idle_mib"]) * 1024 / max(1, row["connected"] or 0),
                1,
            ),
        )
        print(
            f"    N={count:,}: {row.get('heartbeats_per_s')} hb/s, RTT p50 {row.get('rtt_p50_ms')} ms, p99 "
            f"{row.get('rtt_p99_ms')} ms, RSS peak {row['server_rss_peak_mib']} MiB, server CPU "
            f"{row.get('server_cpu_pct')} %, errors {row['errors']}",
            flush=True,
        )
        rows.append(row)
    return rows


# -- scenario 2: throughput ------------------------------------------------------------------------

PACED_CLIENTS = 64
"""Connections for the run at a fixed rate: enough that requests wait for the server, not for a free one."""


async def drive_throughput(  # noqa: C901
    orch: LocalOrchestrator,
    keys: list[str],
    sampler: Sampler,
    args: argparse.Namespace,
    per_request: int,
) -> dict[str, Any]:
    stats = Stats()
    agents, _, failures = await connect_all(
        [SimAgent(k, f"sim-{i:02d}", stats, max_jobs=args.jobs_per_agent) for i, k in enumerate(keys)], orch
    )
    # What an earlier scenario of this process left (10,000 closed agents) is out of the collector's
    # way: a full collection over it held this loop for 380 ms in the run at 1018e38, all of which
    # counted as dispatch latency (the row's "sent late").
    gc.collect()
    gc.freeze()
    posted: dict[str, float] = {}
    post_s: list[float] = []
    post_errors: list[str] = []
    http = httpx.AsyncClient(base_url=orch.url, timeout=60)  # set-up and the final counts
    pool: list[RawHttp] = []
    try:
        auth = await _login(http)
        made = await http.post(API + "/workflows", json={"name": "Noop", "document": NOOP_FLOW}, headers=auth)
        workflow_id = made.raise_for_status().json()["id"]
        (await http.post(f"{API}/workflows/{workflow_id}/publish", json={}, headers=auth)).raise_for_status()
        pool += await asyncio.gather(*(RawHttp.open(orch.url) for _ in range(args.clients)))
        requests: dict[int, bytes] = {}

        def start_request(count: int, size: int) -> bytes:
            if (count, size) not in requests:
                requests[count, size] = (
                    post_request(orch.url, API + "/executions", {"workflow_id": workflow_id}, auth)
                    if size == 1
                    else post_request(
                        orch.url, API + "/executions/batch", {"items": [{"workflow_id": workflow_id}] * count}, auth
                    )
                )
            return requests[count, size]

        async def post_starts(client: RawHttp, count: int, size: int) -> list[str] | None:
            """Start `count` executions in one request (the batch route when `size` > 1); their ids,
            or None (the refusal counted in `post_errors`)."""
            status, body = await client.request(start_request(count, size))
            if status != 201:
                post_errors.append(f"{status} {body[:200].decode(errors='replace')}")
                return None
            made = json.loads(body)
            return [item["id"] for item in (made["items"] if size > 1 else [made])]

        async def worker(client: RawHttp, budget: list[int], record: bool, size: int = 1) -> None:
            while budget[0] > 0:
                count = min(size, budget[0])
                budget[0] -= count
                t0 = time.perf_counter()
                ids = await post_starts(client, count, size)
                if ids is not None and record:
                    post_s.append(time.perf_counter() - t0)
                    posted.update(dict.fromkeys(ids, t0))

        async def paced(rate: float, count: int, size: int) -> tuple[float, dict[str, float]]:
            """Open loop: request k is due at origin + k * size / rate, sent when due whether or not
            the earlier ones were answered (on the first free client; waiting for one counts).
            Returns the origin and each execution's due time."""
            free: asyncio.Queue[RawHttp] = asyncio.Queue()
            for client in pool:
                free.put_nowait(client)
            due_at: dict[str, float] = {}
            origin = time.perf_counter() + 0.05

            async def one(due: float, n: int) -> None:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                woke = time.perf_counter()  # later than due only when this process's own loop was busy
                client = await free.get()
                try:
                    ids = await post_starts(client, n, size)
                finally:
                    free.put_nowait(client)
                due_at.update(dict.fromkeys(ids or [], due))
                lateness.append(woke - due)

            sizes = [min(size, count - k) for k in range(0, count, size)]
            await asyncio.gather(*(one(origin + i * size / rate, n) for i, n in enumerate(sizes)))
            return origin, due_at

        async def settle(seconds: float) -> None:
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline and not posted.keys() <= stats.done.keys():  # noqa: ASYNC110
                await asyncio.sleep(0.01)

        await asyncio.gather(*(worker(c, [WARMUP // 4], False) for c in pool[:4]))
        await asyncio.sleep(1)
        mark, first, budget = sampler.mark(), time.perf_counter(), [args.executions]
        await asyncio.gather(*(worker(c, budget, True, per_request) for c in pool))
        posts_s = time.perf_counter() - first
        await settle(max(60.0, args.executions * 0.05))
        cpu = sampler.cpu_since(mark)
        finished = sorted(stats.done[eid] for eid in posted if eid in stats.done)
        latency = [stats.assigned[eid] - t0 for eid, t0 in posted.items() if eid in stats.assigned]
        loaded = dict(posted)
        unloaded = []  # one at a time: the dispatch path without a queue in front of it
        for _ in range(UNLOADED):
            posted.clear()
            await worker(pool[0], [1], True)
            await settle(10)
            unloaded += [stats.assigned[eid] - t0 for eid, t0 in posted.items() if eid in stats.assigned]
            if not posted.keys() <= stats.done.keys():
                stats.errors.append("an execution started one at a time did not finish within 10 s")
                break
        # At the target rate (open loop): what a steady 500/s looks like, not a flood.
        at_rate: dict[str, Any] = {"offered_per_s": args.rate, "executions": args.executions}
        pool += await asyncio.gather(*(RawHttp.open(orch.url) for _ in range(max(0, PACED_CLIENTS - len(pool)))))
        lateness: list[float] = []
        paced_mark = sampler.mark()
        origin, due_at = await paced(args.rate, args.executions, per_request)
        sent_s = time.perf_counter() - origin
        posted.clear()
        posted.update(due_at)
        await settle(max(60.0, args.executions * 0.05))
        done = sorted(stats.done[eid] for eid in due_at if eid in stats.done)
        paced_cpu = sampler.cpu_since(paced_mark)
        late = [stats.assigned[eid] - due for eid, due in due_at.items() if eid in stats.assigned]
        at_rate.update(
            {
                "sent_per_s": round(len(due_at) / sent_s, 1),
                "finished": len(done),
                "executions_per_s": round(len(done) / (done[-1] - origin), 1) if done else None,
                "dispatch_p50_ms": _ms(_pct(late, 0.5)),
                "dispatch_p99_ms": _ms(_pct(late, 0.99)),
                "dispatch_max_ms": _ms(max(late, default=None)),
                "server_cpu_pct": paced_cpu.get("server_cpu_pct"),
                "client_cpu_pct": paced_cpu.get("client_cpu_pct"),
                "client_late_p50_ms": _ms(_pct(lateness, 0.5)),
                "client_late_p99_ms": _ms(_pct(lateness, 0.99)),
            }
        )
        if len(done) < len(due_at):
            stats.errors.append(f"{len(due_at) - len(done)} executions started at {args.rate:g}/s did not finish")
        counts = {}
        for state in STATES:
            page = await http.get(
                API + "/executions", headers=auth, params={"workflow_id": workflow_id, "state": state, "limit": 1}
            )
            if total := page.json().get("total"):
                counts[state] = total
    finally:
        for client in pool:
            client.close()
        await http.aclose()
        await in_batches([agent.close() for agent in agents], 500)
        gc.unfreeze()
    wall, quarter = (finished[-1] - first if finished else None), max(1, len(finished) // 4)
    incomplete, others = len(loaded) - len(finished), sum(v for k, v in counts.items() if k != "succeeded")
    return {
        "agents": len(keys),
        "connected": len(agents),
        "connect_failures": dict(failures),
        "jobs_per_agent": args.jobs_per_agent,
        "clients": args.clients,
        "executions": args.executions,
        "starts_per_request": per_request,
        "posted": len(loaded),
        "post_errors": len(post_errors),
        "first_post_error": post_errors[0] if post_errors else None,
        "finished_by_agents": len(finished),
        "incomplete": incomplete,
        "states": counts,
        "succeeded": counts.get("succeeded", 0) - WARMUP - UNLOADED - len(due_at),
        "at_rate": at_rate,
        "wall_s": wall and round(wall, 3),
        "executions_per_s": wall and round(len(finished) / wall, 1),
        "first_quarter_per_s": round(quarter / (finished[quarter - 1] - first), 1) if finished else None,
        "last_quarter_per_s": round(quarter / (finished[-1] - finished[-quarter - 1]), 1)
        if len(finished) > quarter
        else None,
        "starts_per_s": round(len(loaded) / posts_s, 1),
        "post_p50_ms": _ms(_pct(post_s, 0.5)),
        "post_p99_ms": _ms(_pct(post_s, 0.99)),
        "dispatch_p50_ms": _ms(_pct(latency, 0.5)),
        "dispatch_p99_ms": _ms(_pct(latency, 0.99)),
        "dispatch_max_ms": _ms(max(latency, default=None)),
        "unloaded_dispatch_p50_ms": _ms(_pct(unloaded, 0.5)),
        "unloaded_dispatch_p99_ms": _ms(_pct(unloaded, 0.99)),
        **cpu,
        "agent_errors": stats.errors[:10],
        "closed": dict(stats.closed),
        "errors": len(post_errors) + incomplete + len(stats.errors) + sum(failures.values()) + others,
    }


def bench_throughput(store: Store, args: argparse.Namespace, per_request: int = 1) -> dict[str, Any]:
    orch, url = store.fresh("throughput")
    admin_create(orch)
    keys = asyncio.run(seed_agents(url, THROUGHPUT_AGENTS))
    JobFrames.check()
    start(orch)
    sampler = Sampler(orch.process.pid)  # type: ignore[union-attr]
    try:
        row = asyncio.run(drive_throughput(orch, keys, sampler, args, per_request))
    except Exception as error:
        row = {"executions": args.executions, "errors": 1, "failed": _why(error)}
    finally:
        memory = sampler.stop()
        orch.stop(timeout=60)
    row.update(memory, server_log=log_problems(orch.log))
    print(
        f"  throughput ({per_request} per request): {row.get('executions_per_s')} executions/s, "
        f"dispatch p50 {row.get('dispatch_p50_ms')} ms, "
        f"p99 {row.get('dispatch_p99_ms')} ms (one at a time: p99 {row.get('unloaded_dispatch_p99_ms')} ms), "
        f"errors {row['errors']}{' — ' + row['failed'] if 'failed' in row else ''}",
        flush=True,
    )
    return row


# -- scenario 3: resume time -----------------------------------------------------------------------


def batch_flow(items: int, pause_s: float) -> dict[str, Any]:
    """tests/e2e/test_dispatch_e2e.py's `batch_flow`: a loop of waits, long enough to be killed in."""
    return {
        "schema": "rpa.flow/1",
        "name": "Batch",
        "variables": {"processed": 0},
        "inputs": {"items": {"type": "integer", "default": items}, "pause_s": {"type": "number", "default": pause_s}},
        "nodes": [
            {
                "id": "batch",
                "type": "control.foreach",
                "params": {"items": "{{ range(inputs.items) | list }}", "collect": "{{ steps.work.output }}"},
                "body": {
                    "nodes": [
                        {
                            "id": "work",
                            "type": "core.wait",
                            "params": {"seconds": "{{ inputs.pause_s }}"},
                            "set": {"processed": "{{ vars.processed + 1 }}"},
                        }
                    ]
                },
            }
        ],
        "outputs": {"processed": "{{ vars.processed }}"},
    }


def _after(iso: str | None, origin: float) -> float | None:
    return None if iso is None else round(dt.datetime.fromisoformat(iso).timestamp() - origin, 3)


def resume_once(store: Store, variant: dict[str, Any]) -> dict[str, Any]:
    grace = {"RPA_AGENT_GRACE_S": f"{variant['grace_s']:g}"} if variant["grace_s"] != 10 else {}
    orch, _ = store.fresh("resume", **grace)
    agents: list[LocalAgent] = []
    row: dict[str, Any] = {
        "variant": variant["name"],
        "signal": variant["signal"].name,
        "grace_s": variant["grace_s"],
        "target_s": variant["target_s"],
    }
    try:
        start(orch)
        orch.create_owner(EMAIL, PASSWORD, org=ORG)
        for name in ("a", "b"):
            agents.append(
                LocalAgent(orch, orch.data_dir.parent / f"agent-{name}", name, env={"HOME": orch.env["HOME"]})
            )
            agents[-1].start()
        for agent in agents:
            agent.wait_online(orch.client)
        eid = orch.start_execution(orch.publish(batch_flow(RESUME_ITEMS, RESUME_PAUSE_S)))
        with httpx.Client(
            base_url=orch.url + API, timeout=30, headers={"Authorization": f"Bearer {orch.client.access_token}"}
        ) as http:

            def get(path: str, **params: Any) -> Any:
                return http.get(path, params=params).raise_for_status().json()

            def events(after: int = 0) -> list[dict[str, Any]]:
                items: list[dict[str, Any]] = get(f"/executions/{eid}/events", after_seq=after, limit=1000)["items"]
                return items

            wait_for(lambda: sum(e["type"] == "iteration.finished" for e in events()) >= 2, 60, "two iterations")
            holder = next(a for a in agents if a.agent_id == get(f"/executions/{eid}")["agent_id"])
            other = next(a for a in agents if a is not holder)
            seq_at_kill = max(e["seq"] for e in events())
            killed_wall, killed = time.time(), time.perf_counter()
            holder.process.send_signal(variant["signal"])  # type: ignore[union-attr]
            limit = variant["grace_s"] + (50 if variant["signal"] is signal.SIGSTOP else 0) + 60
            found = wait_for(
                lambda: [e for e in events(seq_at_kill) if e["type"] == "node.started"],
                limit,
                "a node.started journaled by the other agent",
            )
            row.update(
                resume_s=round(time.perf_counter() - killed, 3),
                resume_by_event_ts_s=round(found[0]["ts"] - killed_wall, 3),
            )
            history = get(f"/executions/{eid}/transitions", limit=100)["items"]
            lost = [t for t in history if t["to_state"] == "lost"]
            assigned = [t for t in history if t["to_state"] == "assigned"]
            row.update(
                lost_after_s=_after(lost[0]["at"] if lost else None, killed_wall),
                reassigned_after_s=_after(assigned[-1]["at"] if len(assigned) > 1 else None, killed_wall),
                lost_reason=lost[0]["reason"] if lost else None,
                holder_disconnected_after_s=_after(get(f"/agents/{holder.agent_id}")["disconnected_at"], killed_wall),
            )
            done = wait_for(
                lambda: (x := get(f"/executions/{eid}"))["state"] in TERMINAL_STATES and x,
                60,
                "the end of the execution",
            )
            row.update(
                final_state=done["state"],
                outputs=done["outputs"],
                attempt=done["attempt"],
                resumed_by_other=done["agent_id"] == other.agent_id,
            )
        row["errors"] = int(
            not row["resumed_by_other"]
            or done["state"] != "succeeded"
            or done["attempt"] != 2
            or done["outputs"] != {"processed": RESUME_ITEMS}
        )
    except Exception as error:
        row.update(errors=1, failed=_why(error))
    finally:
        for agent in agents:
            if agent.running:
                agent.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
                agent.kill()
        orch.stop()
        row["server_log"] = log_problems(orch.log)
    print(
        f"  resume, {row['variant']}: node.started on the other agent after {row.get('resume_s')} s (lost after "
        f"{row.get('lost_after_s')} s){' — ' + row['failed'] if 'failed' in row else ''}",
        flush=True,
    )
    return row


def bench_resume(store: Store, args: argparse.Namespace) -> list[dict[str, Any]]:
    variants = [
        {"name": "SIGKILL, default grace", "signal": signal.SIGKILL, "grace_s": 10, "target_s": 15},
        {"name": "SIGKILL, RPA_AGENT_GRACE_S=1", "signal": signal.SIGKILL, "grace_s": 1, "target_s": 2},
    ]
    if args.dead_machine:
        variants.append(
            {"name": "SIGSTOP (dead machine), default", "signal": signal.SIGSTOP, "grace_s": 10, "target_s": None}
        )
    return [resume_once(store, variant) for variant in variants]


def main() -> int:  # noqa: C901
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--scenarios", default="connected,throughput,resume,storm", help="comma-separated")
    parser.add_argument("--storm-agents", default="10000", help="agents reconnecting in the storm, comma-separated")
    parser.add_argument(
        "--storm-handshakes",
        default="",
        help="RPA_AGENT_HANDSHAKES of the storm's server, "
        "comma-separated: one run per value and agent count (none: the server's default; "
        "a large number: admission off)",
    )
    parser.add_argument("--agents", default="1000,5000,10000", help="connected agents, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="heartbeat window once all are connected")
    parser.add_argument("--interval", type=float, default=10.0, help="RPA_HEARTBEAT_INTERVAL_S")
    parser.add_argument("--executions", type=int, default=2000, help="executions started in the throughput run")
    parser.add_argument(
        "--rate",
        type=float,
        default=float(TARGET_EPS),
        help="executions/s offered in the throughput scenario's run at a fixed rate",
    )
    parser.add_argument("--jobs-per-agent", type=int, default=4, help="max_jobs of each of the 50 agents")
    parser.add_argument(
        "--clients", type=int, default=PACED_CLIENTS, help="concurrent API clients starting executions in the flood"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the throughput (one start per request) this "
        "many times, each on a fresh server, and report every run (the machine drifts)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=20,
        help="also run the throughput with this many starts "
        "per request (POST /executions/batch); 1: only single starts",
    )
    parser.add_argument("--dead-machine", action="store_true", help="with --quick: add the SIGSTOP variant (~50 s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200,1000 agents, 15 s, 300 executions")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the tables of a saved run; run nothing")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = parser.parse_args()
    if args.render:
        render(json.loads(args.render.read_text(encoding="utf-8")), args.markdown)
        return 0
    for name, quick in (("agents", "200,1000"), ("seconds", 15.0), ("executions", 300), ("storm_agents", "1000")):
        if args.quick and getattr(args, name) == parser.get_default(name):
            setattr(args, name, quick)
    args.dead_machine = args.dead_machine or not args.quick  # cheap in CPU: the full run includes it
    args.agents = [int(n) for n in str(args.agents).split(",") if n.strip()]
    args.storm_agents = [int(n) for n in str(args.storm_agents).split(",") if n.strip()]
    args.storm_handshakes = [int(n) for n in str(args.storm_handshakes).split(",") if n.strip()] or [0]
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    if set(databases) - {"sqlite", "postgres"} or scenarios - {"connected", "throughput", "resume", "storm"}:
        parser.error("unknown database or scenario")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: every finally stops what it started
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    report: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": rev or None,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_mib": psutil.virtual_memory().total >> 20,
            "nofile_limit": hard,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "interval_s": args.interval,
            "seconds": args.seconds,
            "agents": args.agents,
            "executions": args.executions,
            "clients": args.clients,
            "rate": args.rate,
            "repeat": args.repeat,
            "jobs_per_agent": args.jobs_per_agent,
            "quick": args.quick,
            "command": " ".join(["python", *sys.argv]),
            "note": "the simulated agents (this process) and the server share the machine's cores",
        },
        "databases": [],
    }
    for name in databases:
        print(f"{name}:", flush=True)
        result: dict[str, Any] = {"database": name}
        report["databases"].append(result)
        try:
            with Store(name) as store:
                for scenario, bench in (
                    ("connected", bench_connected),
                    ("throughput", bench_throughput),
                    ("resume", bench_resume),
                    ("storm", bench_storm),
                ):
                    if scenario in scenarios:
                        result[scenario] = bench(store, args)
                    if scenario == "throughput" and scenario in scenarios and args.repeat > 1:
                        result["throughput_repeats"] = [result[scenario]] + [
                            bench_throughput(store, args) for _ in range(args.repeat - 1)
                        ]
                    if scenario == "throughput" and scenario in scenarios and args.batch > 1:
                        result["throughput_batch"] = bench_throughput(store, args, args.batch)
        except Exception as error:
            result["failed"] = _why(error)
            print(f"  failed: {result['failed']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    render(report, args.markdown)
    rows = [
        r
        for d in report["databases"]
        for r in [
            *d.get("connected", []),
            *d.get("resume", []),
            *d.get("storm", []),
            *d.get("throughput_repeats", [])[1:],
            *[d[k] for k in ("throughput", "throughput_batch") if d.get(k)],
        ]
    ]
    return 1 if any("failed" in d for d in report["databases"]) or any(r.get("errors") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
