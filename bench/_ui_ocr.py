#!/usr/bin/env python3
"""OCR benchmark: an A4 page at 300 dpi through `ocr.read_text` next to tesseract called directly,
and a 20-page scanned PDF through `ocr.read_pdf` on all cores next to one page at a time.

    .venv/bin/python bench/_ui_ocr.py [--pages 20] [--repeats 3] [--quick] [--out bench/results/ui_ocr.json]

`bench/ui_steps.py` calls `run(args)` (rows as dicts) and puts the rows in its own table; run
alone, this file prints its table and writes the JSON. Pages are drawn with DejaVu Serif at
10 pt (42 px at 300 dpi), so the text is known and the accuracy is measured, not guessed. The
direct run is `tesseract page.png stdout` with `OMP_THREAD_LIMIT=1`, the same binary and data
files; our step reads the same PNG, prepares it (upscale check, deskew estimate) and asks for
words with boxes. Each single-page time is the best of `--repeats` runs (the machine is shared;
the best run is the least disturbed one).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import difflib
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "ui_ocr.json"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
A4_300DPI = (2480, 3508)
TARGET_RATIO = 1.05
"""Our step's time per page over tesseract's own, at most."""
_VOCABULARY = [
    "invoice",
    "order",
    "delivery",
    "payment",
    "account",
    "customer",
    "amount",
    "total",
    "balance",
    "due",
    "date",
    "reference",
    "shipment",
    "quantity",
    "price",
    "discount",
    "tax",
    "net",
    "gross",
    "supplier",
    "address",
    "street",
    "city",
    "postal",
    "code",
    "the",
    "of",
    "and",
    "to",
    "for",
    "with",
    "on",
    "at",
    "by",
    "from",
    "is",
    "was",
    "be",
    "this",
    "that",
    "which",
]


def page_text(number: int, lines: int = 60) -> list[str]:
    """Deterministic business-like lines for page `number`."""
    rng = random.Random(number)
    out = []
    for i in range(lines):
        words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(7, 10))]
        if i % 3 == 0:
            words.insert(rng.randint(0, len(words)), f"{rng.randint(10, 99_999):,}.{rng.randint(0, 99):02d}")
        if i % 5 == 0:
            words.insert(rng.randint(0, len(words)), f"INV-{number:02d}{rng.randint(100, 999)}")
        line = " ".join(words)
        out.append(line[0].upper() + line[1:] + ".")
    return out


def draw_page(lines: list[str]) -> Any:
    """An A4 page at 300 dpi with `lines` in 10 pt serif, greyscale, dpi recorded."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 42)
    image = Image.new("L", A4_300DPI, 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((180, 200 + i * 52), line, font=font, fill=0)
    image.info["dpi"] = (300, 300)
    return image


def accuracy(expected: str, got: str) -> float:
    """Character accuracy: 1 - edits / expected length, whitespace collapsed."""
    a, b = (re.sub(r"\s+", " ", t).strip() for t in (expected, got))
    errors = sum(
        max(i2 - i1, j2 - j1)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        if tag != "equal"
    )
    return round(1 - errors / max(len(a), 1), 4)


class Clock:
    """Wall seconds and CPU seconds (this process's threads and its finished children)."""

    def __enter__(self) -> Clock:
        self.wall0 = time.perf_counter()
        self.cpu0 = self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = self._cpu() - self.cpu0

    @staticmethod
    def _cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _direct(png: Path) -> tuple[Clock, str]:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    with Clock() as clock:
        done = subprocess.run(["tesseract", str(png), "stdout"], capture_output=True, text=True, env=env, check=True)
    return clock, done.stdout


def _step(png: Path) -> tuple[Clock, str]:
    from agent.steps.ocr import read_text
    from shared.steps import StepEnvironment

    env = StepEnvironment()
    with Clock() as clock:
        result = asyncio.run(env.run(read_text, {"image": str(png)}))
    return clock, str(result["text"])


def single_page(repeats: int, folder: Path) -> list[dict[str, Any]]:
    """Best-of-`repeats` seconds for one page, direct and through the step, with accuracy."""
    lines = page_text(1)
    png = folder / "a4-300dpi.png"
    draw_page(lines).save(png, dpi=(300, 300))
    expected = "\n".join(lines)
    _step(png)  # imports and the language list, once, as a running agent has them
    direct, ours = [], []
    for _ in range(repeats):  # interleaved, so both see the same load
        direct.append(_direct(png))
        ours.append(_step(png))
    rows = []
    for runner, runs in (("tesseract (direct)", direct), ("ocr.read_text", ours)):
        rows.append(
            {
                "scenario": "A4 page, 300 dpi",
                "runner": runner,
                "seconds": round(min(c.wall for c, _ in runs), 3),
                "cpu_s": round(min(c.cpu for c, _ in runs), 3),
                "runs_s": [round(c.wall, 3) for c, _ in runs],
                "runs_cpu_s": [round(c.cpu, 3) for c, _ in runs],
                "accuracy": accuracy(expected, runs[0][1]),
            }
        )
    # CPU seconds decide: on a shared machine wall time measures the neighbours as much as us.
    ratio = rows[1]["cpu_s"] / rows[0]["cpu_s"]
    rows[1].update(
        ratio=round(ratio, 3),
        wall_ratio=round(rows[1]["seconds"] / rows[0]["seconds"], 3),
        target=f"<= {TARGET_RATIO}x",
        met=ratio <= TARGET_RATIO,
    )
    return rows


def build_scan(pages: int, folder: Path) -> tuple[Path, list[str]]:
    """An image-only PDF of `pages` A4 pages (JPEG, as a scanner writes them); their texts."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument.new()
    texts = []
    for number in range(1, pages + 1):
        lines = page_text(number)
        texts.append("\n".join(lines))
        jpeg = folder / f"page-{number}.jpg"
        draw_page(lines).save(jpeg, quality=90)
        page = pdf.new_page(595.28, 841.89)
        image = pypdfium2.PdfImage.new(pdf)
        image.load_jpeg(str(jpeg), inline=True)
        image.set_matrix(pypdfium2.PdfMatrix().scale(595.28, 841.89))
        page.insert_obj(image)
        page.gen_content()
        page.close()
    path = folder / "scan.pdf"
    pdf.save(str(path))
    pdf.close()
    return path, texts


def _read_pdf(path: Path, workers: int) -> tuple[Clock, list[str]]:
    from agent.steps.ocr import read_pdf
    from shared.steps import StepEnvironment

    env = StepEnvironment()
    with Clock() as clock:
        result = asyncio.run(env.run(read_pdf, {"path": str(path), "workers": workers, "dpi": 300}))
    return clock, [str(p["text"]) for p in result["pages"]]


def scan(pages: int, folder: Path) -> list[dict[str, Any]]:
    """A `pages`-page scan on every core, then one page at a time."""
    from agent.steps.ocr._pages import core_count

    path, texts = build_scan(pages, folder)
    cores = core_count()
    rows = []
    for workers in (cores, 1):
        clock, got = _read_pdf(path, workers)
        rows.append(
            {
                "scenario": f"{pages}-page scan, 300 dpi",
                "runner": f"ocr.read_pdf, {workers} worker{'s' if workers > 1 else ''}",
                "seconds": round(clock.wall, 2),
                "cpu_s": round(clock.cpu, 2),
                "per_page_s": round(clock.wall / pages, 3),
                "accuracy": round(sum(accuracy(t, g) for t, g in zip(texts, got, strict=True)) / pages, 4),
            }
        )
    rows[0]["speedup"] = round(rows[1]["seconds"] / rows[0]["seconds"], 2)
    return rows


def run(args: argparse.Namespace | None = None) -> list[dict[str, Any]]:
    """Every OCR row; reads `ocr_pages`, `ocr_repeats` and `quick` from `args` when present."""
    quick = bool(getattr(args, "quick", False))
    pages = int(getattr(args, "ocr_pages", None) or (4 if quick else 20))
    repeats = int(getattr(args, "ocr_repeats", None) or (1 if quick else 3))
    with tempfile.TemporaryDirectory(prefix="rpa-bench-ocr-") as tmp:
        folder = Path(tmp)
        return single_page(repeats, folder) + scan(pages, folder)


def render(rows: list[dict[str, Any]]) -> None:
    """Print the rows as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="OCR (tesseract 5, OMP_THREAD_LIMIT=1)")
    for column in ("scenario", "runner", "wall s", "CPU s", "wall s / page", "accuracy", "ratio / speedup"):
        table.add_column(column)
    for row in rows:
        versus = row.get("ratio") or row.get("speedup") or ""
        if "ratio" in row:
            met = "met" if row["met"] else "NOT met"
            versus = f"{row['ratio']}x CPU, {row['wall_ratio']}x wall ({row['target']}: {met})"
        elif "speedup" in row:
            versus = f"{row['speedup']}x faster than 1 worker"
        table.add_row(
            row["scenario"],
            row["runner"],
            f"{row['seconds']:.2f}",
            f"{row['cpu_s']:.2f}",
            f"{row.get('per_page_s', row['seconds']):.2f}",
            f"{row['accuracy']:.4f}",
            str(versus),
        )
    Console().print(table)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `run` reads, for a caller's own parser."""
    parser.add_argument("--ocr-pages", type=int, default=None, help="Pages in the scan (default 20; 4 with --quick).")
    parser.add_argument("--ocr-repeats", type=int, default=None, help="Runs per single-page time (best kept).")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="4 pages, one run each: a smoke run.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where to write the JSON.")
    args = parser.parse_args()
    rows = run(args)
    render(rows)
    meta = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "tesseract": subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0],
        "load_average": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r.get("met", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
