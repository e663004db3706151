"""Scenario 3 of `bench/dispatch.py`: resume time after an agent is killed (or frozen).
Used by `bench/dispatch.py`; not run on its own."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import time
from typing import Any

import httpx
from _dispatch_parts import (
    API,
    EMAIL,
    ORG,
    PASSWORD,
    RESUME_ITEMS,
    RESUME_PAUSE_S,
    Store,
    _why,
    log_problems,
    start,
)

from cli.supervise import LocalAgent, wait_for
from shared.states import TERMINAL_STATES


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
