"""The tables of `bench/dispatch.py` (a run's JSON in, rich or Markdown tables out) and the
targets each row is judged against."""

from __future__ import annotations

from typing import Any

from _dispatch_parts import N8N_EPS, TARGET_EPS, TARGET_P99_MS, TEMPORAL_S, THROUGHPUT_AGENTS
from _dispatch_storm import storm_target


def _f(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _connected_target(row: dict[str, Any]) -> str:
    whole = row.get("connected") == row["agents"] and not row["errors"]
    if row["agents"] < 10_000:
        return ("✓" if whole else "✗") + " all connected, no errors"
    fast = (row.get("rtt_p99_ms") or float("inf")) < 100
    return ("✓" if whole and fast else "✗") + " all connected, no errors, p99 < 100 ms"


def _throughput_target(db: str, row: dict[str, Any]) -> str:
    reference = f"n8n: {N8N_EPS}/s"
    if row.get("starts_per_request", 1) > 1:
        return f"info: {row['starts_per_request']} starts per request; {reference}"
    if db != "sqlite":
        return f"≥ {TARGET_EPS}/s, p99 < {TARGET_P99_MS} ms (on SQLite); {reference}"
    paced = row.get("at_rate") or {}
    met = (
        (row.get("executions_per_s") or 0) >= TARGET_EPS
        and not row["errors"]
        and paced.get("offered_per_s", 0) >= TARGET_EPS
        and (paced.get("executions_per_s") or 0) >= 0.95 * paced["offered_per_s"]
        and (paced.get("dispatch_p99_ms") or 1e9) < TARGET_P99_MS
    )
    return f"{'✓' if met else '✗'} ≥ {TARGET_EPS}/s, p99 < {TARGET_P99_MS} ms at {TARGET_EPS}/s; {reference}"


def _median(values: list[Any]) -> float | None:
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    middle = len(known) // 2
    return float(known[middle]) if len(known) % 2 else (known[middle - 1] + known[middle]) / 2


def _paced_cells(paced: dict[str, Any] | None) -> list[str]:
    if not paced:
        return ["-"] * 7
    return [
        _f(paced.get("offered_per_s")),
        _f(paced.get("executions_per_s")),
        _f(paced.get("dispatch_p50_ms"), 2),
        _f(paced.get("dispatch_p99_ms"), 2),
        _f(paced.get("dispatch_max_ms"), 2),
        _f(paced.get("server_cpu_pct")),
        _f(paced.get("client_late_p99_ms"), 2),
    ]


def render(report: dict[str, Any], markdown: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console, meta = Console(width=400 if markdown else 220, highlight=False), report["meta"]  # no wrapped cells

    def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
        made = Table(title=None if markdown else title, box=box.MARKDOWN if markdown else box.SIMPLE_HEAD)
        for i, column in enumerate(columns):
            made.add_column(column, justify="left" if i < 2 or column == "target" else "right")
        for row in rows:
            made.add_row(*row)
        if rows:
            console.print(made)

    each = [(d["database"], r) for d in report["databases"] for r in d.get("connected", [])]
    table(
        f"Connected agents: heartbeat every {meta['interval_s']:g} s for {meta['seconds']:g} s; the simulated "
        f"agents and the server share the {meta['cpus']} cores",
        [
            "database",
            "agents",
            "connected",
            "connect s",
            "RSS idle→peak MiB",
            "KiB/agent",
            "server CPU %",
            "client CPU %",
            "hb/s",
            "RTT p50 ms",
            "RTT p99 ms",
            "RTT max ms",
            "errors",
            "target",
        ],
        [
            [
                db,
                _f(r["agents"]),
                _f(r.get("connected")),
                _f(r.get("connect_s")),
                f"{_f(r.get('server_rss_idle_mib'))}→{_f(r.get('server_rss_peak_mib'))}",
                _f(r.get("kib_per_agent")),
                _f(r.get("server_cpu_pct")),
                _f(r.get("client_cpu_pct")),
                _f(r.get("heartbeats_per_s")),
                _f(r.get("rtt_p50_ms"), 2),
                _f(r.get("rtt_p99_ms"), 2),
                _f(r.get("rtt_max_ms"), 2),
                _f(r["errors"]),
                _connected_target(r),
            ]
            for db, r in each
        ],
    )
    each = [
        (d["database"], r) for d in report["databases"] for r in (d.get("throughput"), d.get("throughput_batch")) if r
    ]
    table(
        f"Throughput: one-step flow, {THROUGHPUT_AGENTS} simulated agents, {meta['clients']} API clients",
        [
            "database",
            "starts/request",
            "agentsxslots",
            "executions",
            "succeeded",
            "exec/s",
            "starts/s",
            "flood: dispatch p50 ms",
            "p99 ms",
            "server CPU %",
            "at rate: offered/s",
            "exec/s",
            "dispatch p50 ms",
            "p99 ms",
            "max ms",
            "server CPU %",
            "sent late p99 ms",
            "1-at-a-time p99 ms",
            "errors",
            "target",
        ],
        [
            [
                db,
                _f(r.get("starts_per_request", 1)),
                f"{r.get('agents')}x{r.get('jobs_per_agent')}",
                _f(r.get("executions")),
                _f(r.get("succeeded")),
                _f(r.get("executions_per_s")),
                _f(r.get("starts_per_s")),
                _f(r.get("dispatch_p50_ms"), 2),
                _f(r.get("dispatch_p99_ms"), 2),
                _f(r.get("server_cpu_pct")),
                *_paced_cells(r.get("at_rate")),
                _f(r.get("unloaded_dispatch_p99_ms"), 2),
                _f(r["errors"]),
                _throughput_target(db, r),
            ]
            for db, r in each
        ],
    )
    each = [(d["database"], i, r) for d in report["databases"] for i, r in enumerate(d.get("throughput_repeats", []))]
    table(
        "Throughput, one start per request, run after run (each on a fresh server; the machine's speed drifts)",
        [
            "database",
            "run",
            "flood exec/s",
            "at rate: exec/s",
            "dispatch p50 ms",
            "p99 ms",
            "server CPU %",
            "sent late p99 ms",
            "errors",
            "target",
        ],
        [
            [
                db,
                _f(i + 1),
                _f(r.get("executions_per_s")),
                *[_paced_cells(r.get("at_rate"))[k] for k in (1, 2, 3, 5, 6)],
                _f(r["errors"]),
                _throughput_target(db, r),
            ]
            for db, i, r in each
        ]
        + [
            [
                db,
                "median",
                _f(_median([r.get("executions_per_s") for r in d["throughput_repeats"]])),
                _f(_median([(r.get("at_rate") or {}).get("executions_per_s") for r in d["throughput_repeats"]])),
                _f(_median([(r.get("at_rate") or {}).get("dispatch_p50_ms") for r in d["throughput_repeats"]]), 2),
                _f(_median([(r.get("at_rate") or {}).get("dispatch_p99_ms") for r in d["throughput_repeats"]]), 2),
                "",
                "",
                "",
                f"{sum(_throughput_target(db, r).startswith('✓') for r in d['throughput_repeats'])} of "
                f"{len(d['throughput_repeats'])} runs meet it",
            ]
            for d in report["databases"]
            for db in [d["database"]]
            if d.get("throughput_repeats")
        ],
    )
    each = [(d["database"], r) for d in report["databases"] for r in d.get("resume", [])]
    table(
        "Resume time after the holding agent dies (two real `rpa agent` processes), seconds after the signal",
        [
            "database",
            "variant",
            "socket closed",
            "lost",
            "reassigned",
            "node.started (polled)",
            "by event ts",
            "final",
            "errors",
            "target",
        ],
        [
            [
                db,
                r["variant"],
                _f(r.get("holder_disconnected_after_s"), 2),
                _f(r.get("lost_after_s"), 2),
                _f(r.get("reassigned_after_s"), 2),
                _f(r.get("resume_s"), 2),
                _f(r.get("resume_by_event_ts_s"), 2),
                r.get("final_state") or r.get("failed", "-"),
                _f(r["errors"]),
                (
                    f"{'✓' if (r.get('resume_s') or 1e9) < r['target_s'] else '✗'} < {r['target_s']} s"
                    if r.get("target_s")
                    else "info: 3 missed beats + grace = 40 s"
                )
                + f"; Temporal: start-to-close, {TEMPORAL_S} s",
            ]
            for db, r in each
        ],
    )
    each = [(d["database"], r) for d in report["databases"] for r in d.get("storm", [])]
    table(
        "Reconnect storm: every agent reconnects at once after a restart; API reads meanwhile (a prober thread)",
        [
            "database",
            "agents",
            "handshakes at once",
            "back in s",
            "p50 back s",
            "retries",
            "API read before p99 ms",
            "API read p50 ms",
            "p99 ms",
            "max ms",
            "/healthz p99 ms",
            "max ms",
            "errors",
            "target",
        ],
        [
            [
                db,
                _f(r["agents"]),
                _f(r.get("handshakes")) if r.get("handshakes") else "default",
                _f(r.get("storm_s"), 2),
                _f(r.get("back_p50_s"), 2),
                _f(r.get("retries")),
                _f((r.get("read_before") or {}).get("p99_ms"), 1),
                _f((r.get("read") or {}).get("p50_ms"), 1),
                _f((r.get("read") or {}).get("p99_ms"), 1),
                _f((r.get("read") or {}).get("max_ms"), 1),
                _f((r.get("healthz") or {}).get("p99_ms"), 1),
                _f((r.get("healthz") or {}).get("max_ms"), 1),
                _f(r["errors"]),
                storm_target(r) if "failed" not in r else r["failed"],
            ]
            for db, r in each
        ],
    )
