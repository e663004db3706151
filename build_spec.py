"""PyInstaller bundles of the suite's programs.

    python build_spec.py [NAME ...] [--dist DIR]     (or: make bundle)

Each bundle is a one-folder build (`DIR/NAME/NAME`). Today: `rpa`, the command line (validate,
run, demo). Heavy optional parts (Qt, Playwright, OCR, Office, the server) are excluded from a
bundle that does not use them. Demo flows and templates ship under `resources/`.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bundle:
    name: str
    script: str
    packages: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    data: tuple[str, ...] = ("resources",)
    extra_hidden: tuple[str, ...] = field(default=("jinja2.ext",))


BUNDLES = {
    "rpa": Bundle(
        name="rpa",
        script="installer/rpa_main.py",
        packages=("shared", "cli"),
        excludes=("PySide6", "playwright", "pyautogui", "cv2", "numpy", "fastapi", "sqlalchemy", "tkinter"),
    ),
}


def pyinstaller_args(bundle: Bundle, dist: Path, work: Path) -> list[str]:
    """The PyInstaller command line of one bundle."""
    args = [
        str(ROOT / bundle.script),
        "--name",
        bundle.name,
        "--noconfirm",
        "--onedir",
        "--distpath",
        str(dist),
        "--workpath",
        str(work / bundle.name),
        "--specpath",
        str(work),
        "--paths",
        str(ROOT),
        "--copy-metadata",
        "rpa-suite",
    ]
    for package in bundle.packages:
        args += ["--collect-submodules", package]
    for module in bundle.extra_hidden:
        args += ["--hidden-import", module]
    for module in bundle.excludes:
        args += ["--exclude-module", module]
    for folder in bundle.data:
        args += ["--add-data", f"{ROOT / folder}{os.pathsep}{folder}"]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=sorted(BUNDLES), help=f"bundles: {', '.join(BUNDLES)}")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build")
    options = parser.parse_args(argv)
    unknown = [n for n in options.names if n not in BUNDLES]
    if unknown:
        parser.error(f"unknown bundle {', '.join(unknown)}; known: {', '.join(BUNDLES)}")
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        print("PyInstaller is missing: install the 'bundle' extra (pip install -e '.[bundle]')", file=sys.stderr)
        return 2
    for name in options.names:
        pyinstaller.run(pyinstaller_args(BUNDLES[name], options.dist, options.work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
