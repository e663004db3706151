"""Scenario 1 of `bench/dispatch.py`: N connected agents heartbeating; round trips, memory, CPU.
Used by `bench/dispatch.py`; not run on its own."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import time
from typing import Any

import httpx
from _dispatch_parts import (
    API,
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
