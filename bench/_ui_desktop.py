#!/usr/bin/env python3
"""Desktop benchmark: locating a 60x30 image on a 1280x800 screen, ours vs pyautogui.

    .venv/bin/python bench/_ui_desktop.py [--repeats 20] [--out bench/results/ui_desktop.json]

`run(args)` returns the rows (`bench/ui_steps.py` calls it with its own arguments; only
`repeats` is read, default 20). It starts its own Xvfb (`-displayfd`, a free display), shows a
busy full-screen picture with the 60x30 target at a known place in a Tk window, and times in
the same run, alternating:

- ours: `agent.steps.desktop` resolving `image:target.png` (Pillow XCB grab + OpenCV
  `matchTemplate` on grayscale, the step's defaults), file read included;
- `pyautogui.locateOnScreen(path, confidence=0.9)` (pyscreeze: colour by default), and the same
  with `grayscale=True`, each with its fastest screenshot path (`XDG_SESSION_TYPE=x11`).

Each row has the median seconds, the ratio peer/ours, and whether both found the same box.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "ui_desktop.json"
WIDTH, HEIGHT = 1280, 800
PLACE = (917, 611)
TARGET_RATIO = 2.0

SHOW = """
import sys, tkinter as tk
root = tk.Tk(); root.overrideredirect(True); root.geometry("%dx%d+0+0" % (int(sys.argv[2]), int(sys.argv[3])))
picture = tk.PhotoImage(file=sys.argv[1])
tk.Label(root, image=picture, borderwidth=0).place(x=0, y=0)
root.after(300, lambda: print("shown", flush=True))
root.mainloop()
"""


def _pictures(folder: Path) -> tuple[Path, Path]:
    """A busy desktop-like screen and the 60x30 target pasted into it."""
    from PIL import Image, ImageDraw

    screen = Image.new("RGB", (WIDTH, HEIGHT), "#3a6ea5")
    draw = ImageDraw.Draw(screen)
    for i in range(0, WIDTH, 40):  # a taskbar, windows, icons, text: structure everywhere
        draw.rectangle((i, HEIGHT - 40, i + 30, HEIGHT - 8), fill=(200, 200 - i % 120, 90 + i % 160))
    for k in range(12):
        left, top = 30 + k * 95, 40 + (k * 53) % 400
        draw.rectangle((left, top, left + 300, top + 200), fill="#ececec", outline="#202020")
        for line in range(8):
            draw.text((left + 10, top + 20 + 20 * line), f"Invoice {k}-{line} total 1{line}4.50", fill="#111111")
    target = Image.new("RGB", (60, 30), "#f0c020")
    target_draw = ImageDraw.Draw(target)
    target_draw.rectangle((2, 2, 57, 27), outline="#802000", width=2)
    target_draw.text((8, 9), "OK 42", fill="#000000")
    screen.paste(target, PLACE)
    screen_path, target_path = folder / "screen.png", folder / "target.png"
    screen.save(screen_path)
    target.save(target_path)
    return screen_path, target_path


@contextmanager
def _display(screen: Path) -> Iterator[str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = ":" + pipe.readline().strip()
    env = dict(os.environ, DISPLAY=display, XDG_SESSION_TYPE="x11")
    shower = subprocess.Popen(
        [sys.executable, "-c", SHOW, str(screen), str(WIDTH), str(HEIGHT)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert shower.stdout is not None
        shower.stdout.readline()
        yield display
    finally:
        shower.terminate()
        shower.wait()
        if shower.stdout is not None:
            shower.stdout.close()
        xvfb.terminate()
        xvfb.wait()


def _paired(ours: Callable[[], Any], peer: Callable[[], Any], repeats: int) -> tuple[float, Any, float, Any]:
    """Median seconds of each, timed alternately so that load from other processes hits both."""
    ours_result, peer_result = ours(), peer()  # warm-up: imports, first connection
    ours_times, peer_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        ours_result = ours()
        middle = time.perf_counter()
        peer_result = peer()
        peer_times.append(time.perf_counter() - middle)
        ours_times.append(middle - start)
    return statistics.median(ours_times), ours_result, statistics.median(peer_times), peer_result


def run(args: Any) -> list[dict[str, Any]]:
    """Rows: one per peer, with ours beside it (seconds are medians)."""
    repeats = int(getattr(args, "repeats", None) or 20)
    with tempfile.TemporaryDirectory(prefix="rpa-bench-desktop-") as tmp:
        screen, target = _pictures(Path(tmp))
        with _display(screen) as display:
            saved = {key: os.environ.get(key) for key in ("DISPLAY", "XDG_SESSION_TYPE")}
            os.environ.update(DISPLAY=display, XDG_SESSION_TYPE="x11")
            try:
                return _measure(target, repeats)
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


def _measure(target: Path, repeats: int) -> list[dict[str, Any]]:
    from agent.steps.desktop._params import FindParams
    from agent.steps.desktop._resolve import find
    from agent.steps.desktop._screen import pyautogui

    gui = pyautogui()
    params = FindParams(target=f"image:{target}", confidence=0.9)

    def ours() -> tuple[int, int, int, int]:
        return find(params)[0].box

    def peer(grayscale: bool) -> Callable[[], tuple[int, int, int, int] | None]:
        def locate() -> tuple[int, int, int, int] | None:
            box = gui.locateOnScreen(str(target), confidence=0.9, grayscale=grayscale)
            return None if box is None else tuple(int(v) for v in box)  # type: ignore[return-value]

        return locate

    rows = []
    expected = (*PLACE, 60, 30)
    for name, grayscale in (("pyautogui.locateOnScreen (colour, default)", False), ("... grayscale=True", True)):
        ours_s, ours_box, peer_s, peer_box = _paired(ours, peer(grayscale), repeats)
        rows.append(
            {
                "benchmark": "desktop: locate a 60x30 image on 1280x800",
                "peer": name,
                "ours_s": round(ours_s, 5),
                "peer_s": round(peer_s, 5),
                "ratio": round(peer_s / ours_s, 2),
                "target": f">= {TARGET_RATIO:g}x faster",
                "met": peer_s / ours_s >= TARGET_RATIO and ours_box == expected,
                "same_result": ours_box == peer_box == expected,
                "ours_box": list(ours_box),
                "peer_box": None if peer_box is None else list(peer_box),
                "repeats": repeats,
            }
        )
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark (shared with bench/ui_steps.py)."""
    parser.add_argument("--repeats", type=int, default=20, help="desktop: locates per peer, the median kept")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = run(args)
    print(f"{'peer':44} {'ours ms':>9} {'peer ms':>9} {'ratio':>7} {'same':>5} {'met':>5}")
    for row in rows:
        print(
            f"{row['peer']:44} {row['ours_s'] * 1000:9.1f} {row['peer_s'] * 1000:9.1f} "
            f"{row['ratio']:6.2f}x {row['same_result']!s:>5} {row['met']!s:>5}"
        )
    meta = {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(row["same_result"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
