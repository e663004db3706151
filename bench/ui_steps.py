"""UI steps side by side with the libraries they drive: browser (here), desktop and OCR (sections
added by `bench/_ui_desktop.py` and `bench/_ui_ocr.py` when present, each exposing
`run(args) -> list[dict]` and, for options of its own, `add_arguments(parser)`; their rows have
their own columns and get a table each).

Browser section, on the loopback test site (`tests/agent/steps/browser/site.py`), headless
Chromium (`RPA_CHROMIUM` or as the steps find it):

- `form, whole script`: launch, open the page, 50 actions (goto + fill 46 fields + select + check
  + click submit), close. Peer: the same script written directly against Playwright's async API.
  Ours: the same as a flow (`browser.open`, 50 action nodes, `browser.close`) run by the engine.
- `form, 50 actions`: the same minus a run that only opens and closes (launch and teardown
  taken out), per action.
- `memory per session`: Chromium's proportional set size (PSS, all its processes) with 1 and with
  5 sessions open in one execution (they share one Chromium), and with one persistent-profile
  session (its own Chromium).

Each timing is the best of `--rounds` (default 3), ours and the peer alternating, in one run.
Usage: `.venv/bin/python bench/ui_steps.py [--rounds 3] [--repeats 20] [--only browser|others]
[--out bench/results/ui_steps.json]`; a small run: `--rounds 1 --repeats 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _sections  # bench/_sections.py: this script's folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROW_KEYS = ("section", "case", "ours", "peer", "unit", "ratio", "target", "note")
FIELDS = 46  # + goto, select, check, click = 50 actions
OTHER_SECTIONS = ("_ui_desktop", "_ui_ocr")


def form_flow(base: str, actions: bool) -> dict[str, Any]:
    """open → (goto, 46 fills, select, check, click) → close, as a linear flow."""
    nodes: list[dict[str, Any]] = [{"id": "open", "type": "browser.open", "params": {}}]
    if actions:
        nodes.append({"id": "goto", "type": "browser.goto", "params": {"url": f"{base}/bigform?fields={FIELDS}"}})
        nodes += [
            {"id": f"fill{i}", "type": "browser.fill", "params": {"target": f"#f{i}", "value": f"value {i}"}}
            for i in range(FIELDS)
        ]
        nodes += [
            {"id": "choice", "type": "browser.select_option", "params": {"target": "#choice", "value": "b"}},
            {"id": "agree", "type": "browser.check", "params": {"target": "#agree"}},
            {"id": "send", "type": "browser.click", "params": {"target": "#send"}},
        ]
    nodes.append({"id": "close", "type": "browser.close", "params": {}})
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"schema": "rpa.flow/1", "name": "bench-form", "nodes": nodes, "edges": edges}


async def direct_script(playwright: Any, executable: str, base: str, actions: bool) -> None:
    """The peer: the same work written directly against Playwright."""
    from agent.steps.browser._session import SAFE_ARGS

    browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=list(SAFE_ARGS))
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    if actions:
        await page.goto(f"{base}/bigform?fields={FIELDS}")
        for i in range(FIELDS):
            await page.locator(f"#f{i}").fill(f"value {i}")
        await page.locator("#choice").select_option(value="b")
        await page.locator("#agree").check()
        await page.locator("#send").click()
    await context.close()
    await browser.close()


async def steps_without_engine(base: str, rounds: int) -> dict[str, Any]:
    """The 46 fills through the steps (`StepEnvironment`, no engine) against raw fills, per fill."""
    from agent.steps.browser import _actions, _session_steps
    from shared.steps import StepEnvironment

    env = StepEnvironment()
    await env.run(_session_steps.open_, {"url": f"{base}/bigform?fields={FIELDS}"})
    page = env.resources.get("browser:main").page
    best = {"ours": float("inf"), "peer": float("inf")}
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(FIELDS):
                await env.run(_actions.fill, {"target": f"#f{i}", "value": f"value {i}"})
            best["ours"] = min(best["ours"], (time.perf_counter() - start) / FIELDS * 1000)
            start = time.perf_counter()
            for i in range(FIELDS):
                await page.locator(f"#f{i}").fill(f"other {i}")
            best["peer"] = min(best["peer"], (time.perf_counter() - start) / FIELDS * 1000)
    finally:
        await env.aclose()
    return row("browser", "fill through the steps, no engine (per fill)", best["ours"], best["peer"], "ms", 1.10)


async def best_of(rounds: int, work: Any) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - start)
    return best


async def form_rows(base: str, rounds: int) -> list[dict[str, Any]]:
    from agent.steps.browser._runtime import chromium_executable, playwright_for_loop
    from shared.engine import Engine
    from shared.flow import Flow

    playwright = await playwright_for_loop()
    executable = chromium_executable()
    engine = Engine(artifacts_dir=tempfile.mkdtemp(prefix="rpa-bench-"))
    flows = {actions: Flow.model_validate(form_flow(base, actions)) for actions in (True, False)}

    async def ours(actions: bool) -> None:
        result = await engine.run(flows[actions])
        if result.status != "succeeded":
            raise RuntimeError(f"the flow failed: {result.error}")

    await ours(True)  # warm both paths once (imports, the driver, Chromium's disk cache)
    await direct_script(playwright, executable, base, True)
    times: dict[tuple[str, bool], float] = {}
    for actions in (True, False):
        best = {"ours": float("inf"), "peer": float("inf")}
        for _ in range(rounds):  # alternate, so both see the same machine load
            best["ours"] = min(best["ours"], await best_of(1, lambda a=actions: ours(a)))
            best["peer"] = min(
                best["peer"], await best_of(1, lambda a=actions: direct_script(playwright, executable, base, a))
            )
        times[("ours", actions)], times[("peer", actions)] = best["ours"], best["peer"]
    whole_ours, whole_peer = times[("ours", True)], times[("peer", True)]
    act_ours = (times[("ours", True)] - times[("ours", False)]) / 50 * 1000
    act_peer = (times[("peer", True)] - times[("peer", False)]) / 50 * 1000
    return [
        row("browser", "form, whole script (launch + 50 actions + close)", whole_ours, whole_peer, "s", 1.10),
        row("browser", "form, 50 actions (per action)", act_ours, act_peer, "ms", 1.10),
        row("browser", "open + close only", times[("ours", False)], times[("peer", False)], "s", None),
    ]


def row(
    section: str, case: str, ours: float, peer: float | None, unit: str, target: float | None, note: str = ""
) -> dict[str, Any]:
    ratio = ours / peer if peer else None
    return {
        "section": section,
        "case": case,
        "ours": ours,
        "peer": peer,
        "unit": unit,
        "ratio": ratio,
        "target": target,
        "note": note,
    }


def chromium_pss_mib() -> float:
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower():
                total += child.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20


async def memory_rows(base: str) -> list[dict[str, Any]]:
    from agent.steps.browser import _actions, _session_steps
    from shared.steps import StepEnvironment

    env = StepEnvironment()
    results: dict[int, float] = {}
    try:
        for count in range(1, 6):
            await env.run(_session_steps.open_, {"session": f"s{count}"})
            await env.run(_actions.goto, {"session": f"s{count}", "url": f"{base}/form"})
            if count in (1, 5):
                await asyncio.sleep(0.5)
                results[count] = chromium_pss_mib()
    finally:
        await env.aclose()
    profile_env = StepEnvironment()
    try:
        with tempfile.TemporaryDirectory() as profile:
            await profile_env.run(_session_steps.open_, {"profile_dir": profile, "url": f"{base}/form"})
            await asyncio.sleep(0.5)
            persistent = chromium_pss_mib()
            await profile_env.aclose()
    finally:
        await profile_env.aclose()
    each_more = (results[5] - results[1]) / 4
    return [
        row("browser", "memory: first session (its Chromium)", results[1], None, "MiB PSS", None),
        row("browser", "memory: each more session (shared Chromium)", each_more, None, "MiB PSS", None),
        row("browser", "memory: persistent-profile session", persistent, None, "MiB PSS", None),
    ]


async def browser_section(rounds: int) -> list[dict[str, Any]]:
    from agent.steps.browser._runtime import stop_playwright_for_loop
    from tests.agent.steps.browser.site import SiteServer

    os.environ.setdefault("RPA_BROWSER_STATE_DIR", tempfile.mkdtemp(prefix="rpa-bench-state-"))
    with SiteServer() as site:
        try:
            rows = await form_rows(site.base_url, rounds)
            rows.append(await steps_without_engine(site.base_url, rounds))
            rows += await memory_rows(site.base_url)
        finally:
            await stop_playwright_for_loop()
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    header = f"{'section':<8} {'case':<52} {'ours':>10} {'peer':>10} {'unit':<8} {'ratio':>7} {'target':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        target = "-" if r["target"] is None else f"{r['target']:.2f}x"
        ours, peer = fmt(r["ours"]), fmt(r["peer"])
        lines.append(f"{r['section']:<8} {r['case']:<52} {ours:>10} {peer:>10} {r['unit']:<8} {ratio:>7} {target:>7}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="browser: runs per timing, the best kept")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ui_steps.json")
    parser.add_argument("--only", choices=("browser", "others"), default=None, help="browser, or the other sections")
    others = _sections.load(OTHER_SECTIONS, parser)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    if args.only in (None, "browser"):
        rows += asyncio.run(browser_section(args.rounds))
        sys.stdout.write(render(rows) + "\n")
    if args.only in (None, "others"):
        for name, module in others.items():  # rows of their own shape: a table each
            section = [{"section": name.removeprefix("_ui_"), **row} for row in module.run(args)]
            sys.stdout.write("\n" + _sections.render_table(section) + "\n")
            rows += section
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
        "rounds": args.rounds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    sys.stdout.write(f"written to {args.out}\n")


if __name__ == "__main__":
    main()
