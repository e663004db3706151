"""The engine benchmark's report: ratios against the peers, the table and the summary lines.

Split from `bench/engine.py` (which imports it; this folder is on `sys.path` when a script in it
runs), so that the measuring script stays short. Pure functions of the report dict: nothing here
runs a scenario.
"""

from __future__ import annotations

from typing import Any

TARGET_DURABLE_MS = 0.3
"""Per-step overhead the durable (SQLite, synchronous=NORMAL) journal must stay under."""
TARGET_PEER_RATIO = 20.0
"""How many times faster per step than each peer we must be (1,000 sequential, durable)."""
REFERENCE_SCENARIO = "sequential-1000"
"""The scenario whose durable per-step time the peers are compared with."""


def _reference(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    for row in rows:
        if (
            row["scenario"] == REFERENCE_SCENARIO
            and row["journal"] == "sqlite"
            and row.get("synchronous") == "NORMAL"
            and "error" not in row
        ):
            return row
    return None


def ratios(rows: list[dict[str, Any]], peers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Peer per-task ms / our durable per-step ms on the reference scenario."""
    ours = _reference(rows)
    out: list[dict[str, Any]] = []
    for peer in peers:
        if ours is None or "error" in peer or not peer.get("per_task_ms"):
            continue
        ratio = peer["per_task_ms"] / ours["per_step_ms"]
        out.append(
            {
                "peer": peer["label"],
                "peer_per_task_ms": peer["per_task_ms"],
                "our_per_step_ms": ours["per_step_ms"],
                "ratio": round(ratio, 1),
                "target_met": ratio >= TARGET_PEER_RATIO,
            }
        )
    return out


def _journal_label(row: dict[str, Any]) -> str:
    if row["journal"] == "sqlite":
        return f"sqlite ({row.get('synchronous') or 'NORMAL'})"
    return str(row["journal"])


def _durable_verdict(row: dict[str, Any]) -> str:
    if row["journal"] != "sqlite" or "per_step_ms" not in row:
        return ""
    if row.get("synchronous") == "FULL":
        return "info (target is for NORMAL)"
    met = row["per_step_ms"] <= TARGET_DURABLE_MS
    return f"{'✓' if met else '✗'} ≤ {TARGET_DURABLE_MS:g} ms"


def render(report: dict[str, Any], markdown: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=180, highlight=False)
    table = Table(
        title=None if markdown else "Engine benchmark (best of 3, fresh process per row)",
        box=box.MARKDOWN if markdown else box.SIMPLE_HEAD,
    )
    for header, justify in (
        ("scenario", "left"),
        ("journal", "left"),
        ("steps", "right"),
        ("events", "right"),
        ("load s", "right"),
        ("run s", "right"),
        ("ms/step", "right"),
        ("steps/s", "right"),
        ("peak RSS MiB", "right"),
        ("run ΔRSS", "right"),
        ("target", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for row in report["scenarios"]:
        if "error" in row:
            table.add_row(
                row["scenario"], _journal_label(row), "", "", "", "", "", "", "", "", f"ERROR: {row['error']}"
            )
            continue
        table.add_row(
            row["scenario"],
            _journal_label(row),
            f"{row['steps']:,}",
            f"{row['events']:,}",
            f"{row['load_s']:.3f}",
            f"{row['total_s']:.3f}",
            f"{row['per_step_ms']:.4f}",
            f"{row['steps_per_s']:,}",
            f"{row['peak_rss_mib']:.1f}",
            f"+{row['peak_rss_mib'] - row['loaded_rss_mib']:.1f}",
            _durable_verdict(row),
        )
    ratio_of = {r["peer"]: r for r in report.get("ratios", [])}
    for peer in report.get("peers", []):
        if "error" in peer:
            table.add_row(peer["label"], "peer", "", "", "", "", "", "", "", "", f"ERROR: {peer['error']}")
            continue
        rss = f"{peer['peak_rss_mib']:.1f}"
        if peer.get("server_peak_rss_mib"):
            rss += f" + {peer['server_peak_rss_mib']:.1f} srv"
        ratio = ratio_of.get(peer["label"])
        verdict = ""
        if ratio is not None:
            mark = "✓" if ratio["target_met"] else "✗"
            verdict = f"{mark} {ratio['ratio']:.0f}x our ms/step (≥ {TARGET_PEER_RATIO:g}x)"
        table.add_row(
            peer["label"],
            f"{peer['peer']} {peer.get('version', '')}",
            f"{peer['tasks']:,}",
            "",
            "",
            f"{peer['total_s']:.3f}",
            f"{peer['per_task_ms']:.4f}",
            f"{round(peer['tasks'] / peer['total_s']):,}" if peer["total_s"] else "",
            rss,
            "",
            verdict,
        )
    console.print(table)
    for line in summary_lines(report):
        console.print(line)


def summary_lines(report: dict[str, Any]) -> list[str]:  # noqa: C901
    lines: list[str] = []
    durable = [
        r
        for r in report["scenarios"]
        if r["journal"] == "sqlite" and r.get("synchronous") == "NORMAL" and "per_step_ms" in r
    ]
    failed = [
        r["scenario"]
        for r in report["scenarios"]
        if r["journal"] == "sqlite" and r.get("synchronous") == "NORMAL" and "error" in r
    ]
    if durable:
        worst = max(durable, key=lambda r: r["per_step_ms"])
        met = all(r["per_step_ms"] <= TARGET_DURABLE_MS for r in durable)
        lines.append(
            f"Target: durable journal (sqlite, synchronous=NORMAL) ≤ {TARGET_DURABLE_MS:g} ms/step: "
            f"{'met' if met else 'NOT met'} on the {len(durable)} scenarios that ran "
            f"(worst {worst['per_step_ms']:.4f} ms, {worst['scenario']})"
            + (f"; not measured, the run failed: {', '.join(failed)}." if failed else ".")
        )
    by_key = {
        (r["scenario"], r["journal"], r.get("synchronous")): r for r in report["scenarios"] if "peak_rss_mib" in r
    }
    seq = sorted({r["size"] for r in by_key.values() if r.get("kind") == "sequential"})
    if len(seq) >= 2:
        small, large = seq[0], seq[-1]
        for journal, sync in (("memory", None), ("sqlite", "NORMAL")):
            a = by_key.get((f"sequential-{small}", journal, sync))
            b = by_key.get((f"sequential-{large}", journal, sync))
            if a and b:
                run_a, run_b = (r["peak_rss_mib"] - r["loaded_rss_mib"] for r in (a, b))
                per_step = (run_b - run_a) * 1024 / (large - small)
                per_node = (b["loaded_rss_mib"] - a["loaded_rss_mib"]) * 1024 / (large - small)
                lines.append(
                    f"Memory ({journal} journal): {small:,} steps peak {a['peak_rss_mib']:.1f} MiB "
                    f"(flow loaded {a['loaded_rss_mib']:.1f}, run +{run_a:.1f}); {large:,} steps peak "
                    f"{b['peak_rss_mib']:.1f} MiB (flow loaded {b['loaded_rss_mib']:.1f}, run +{run_b:.1f}): "
                    f"the run adds {per_step:.2f} KiB per extra step, the flow model {per_node:.2f} KiB "
                    "per extra node."
                )
    for ratio in report.get("ratios", []):
        lines.append(
            f"Ratio {ratio['peer']}: {ratio['peer_per_task_ms']:.3f} ms per task / "
            f"{ratio['our_per_step_ms']:.4f} ms per durable step ({REFERENCE_SCENARIO}) = "
            f"{ratio['ratio']:.1f}x — target ≥ {TARGET_PEER_RATIO:g}x "
            f"{'met' if ratio['target_met'] else 'NOT met'}."
        )
    for peer in report.get("peers", []):
        if peer.get("recorded_s"):
            lines.append(
                f"{peer['label']}: the flow returned after {peer['total_s']:.2f} s, but the server "
                f"had every task run stored only after {peer['recorded_s']:.2f} s "
                f"({peer['recorded_s'] * 1000 / peer['tasks']:.1f} ms per task)."
            )
    with_ratio = {r["peer"] for r in report.get("ratios", [])}
    for peer in report.get("peers", []):
        if peer["label"] not in with_ratio:
            lines.append(f"Ratio {peer['label']}: not available ({peer.get('error', 'no per-task time')}).")
    if report.get("peers_note"):
        lines.append(report["peers_note"])
    return lines
