"""What finding an element through a target costs, next to Playwright finding it itself.

Each row fills the same input N times on a generated form of FIELDS labelled inputs, in one
headless Chromium (`RPA_CHROMIUM`, or the system's), and reports the median call, the rows
taking turns call by call:

- `playwright`: `page.locator("#f10").fill(...)`: the peer, Playwright's own auto-waiting locator.
- `locate: primary`: `locate(page, "#f10")` then the same fill.
- `locate: fallback wins`: the primary is absent, the first fallback matches.
- `locate: anchor`: `input` right of the text "Field 10".
- `locate: healed`: primary absent, no fallback, found from its fingerprint (scores every input).
- `describe_element`: recording the element (no screenshot).

Usage: `.venv/bin/python bench/browser_targets.py [--n 150] [--fields 200] [--out FILE]`.
Prints a table, writes JSON (default `bench/results/browser_targets.json`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agent.capabilities import find_chromium
from agent.steps.browser import Anchor, TargetSpec, describe_element, locate


def form(fields: int) -> str:
    rows = "".join(
        f"<div><span>Field {i}</span> <input id='f{i}' name='field{i}' class='c{i % 7}'></div>" for i in range(fields)
    )
    return f"<form style='font: 14px sans-serif'>{rows}</form>"


async def timed(n: int, rows: list[tuple[str, Callable[[int], Awaitable[Any]]]]) -> dict[str, float]:
    """The median time of one call per row, in ms, over `n` calls each. The rows take turns call
    by call, so a load that comes and goes (a shared machine) weighs on all of them alike."""
    spent: dict[str, list[float]] = {name: [] for name, _ in rows}
    for i in range(n):
        for name, action in rows:
            start = time.perf_counter()
            await action(i)
            spent[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in spent.items()}


async def run(n: int, fields: int) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    executable = find_chromium()
    if executable is None:
        raise SystemExit("Chromium is missing: install the 'chromium' package or set RPA_CHROMIUM")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=["--disable-gpu"])
        page = await browser.new_page()
        await page.set_content(form(fields))
        recorded = await describe_element(page.locator("#f10"), screenshot=False)
        healing = TargetSpec(selector="#gone", fingerprint=recorded.fingerprint)
        fallback = TargetSpec(selector="#gone", fallbacks=["#f10"])
        anchored = TargetSpec(selector="input", anchor=Anchor(text="Field 10", relation="right_of", exact=True))

        async def raw(i: int) -> None:
            await page.locator("#f10").fill(str(i))

        def via(target: str | TargetSpec) -> Callable[[int], Awaitable[None]]:
            async def act(i: int) -> None:
                found = await locate(page, target, timeout_s=0 if target is healing else 5)
                await found.locator.fill(str(i))

            return act

        async def describe(_i: int) -> None:
            await describe_element(page.locator("#f10"), screenshot=False)

        rows = [("playwright", raw), ("locate: primary", via("#f10")), ("locate: fallback wins", via(fallback))]
        rows += [("locate: anchor", via(anchored)), ("locate: healed", via(healing)), ("describe_element", describe)]
        times = await timed(n, rows)
        results = [{"row": name, "ms_per_call": round(ms, 3)} for name, ms in times.items()]
        await browser.close()
    peer = results[0]["ms_per_call"]
    for row in results:
        row["ratio_to_playwright"] = round(row["ms_per_call"] / peer, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150, help="calls per row")
    parser.add_argument("--fields", type=int, default=200, help="inputs on the generated form")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "browser_targets.json")
    args = parser.parse_args()
    results = asyncio.run(run(args.n, args.fields))
    print(f"{'row':<24}{'ms/call':>10}{'x playwright':>14}")
    for row in results:
        print(f"{row['row']:<24}{row['ms_per_call']:>10.2f}{row['ratio_to_playwright']:>14.2f}")
    meta = {"python": platform.python_version(), "machine": platform.machine(), "n": args.n, "fields": args.fields}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": results}, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
