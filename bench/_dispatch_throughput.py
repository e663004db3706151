"""Scenario 2 of `bench/dispatch.py`: execution throughput (a flood, unloaded, at a fixed rate).
Used by `bench/dispatch.py`; not run on its own."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from typing import Any

import httpx
from _dispatch_load import JobFrames, RawHttp, post_request
from _dispatch_parts import (
    API,
    NOOP_FLOW,
    STATES,
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

from cli.supervise import LocalOrchestrator

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
