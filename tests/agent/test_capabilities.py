"""Capability detection, against a fake machine: a PATH folder, an environment and installed packages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

import agent.capabilities as capabilities
from agent.capabilities import describe_capabilities, detect_capabilities, find_chromium

ALWAYS = ["core", "files", "http"]
EVERY_PACKAGE = {"playwright", "pyautogui", "pytesseract", "openpyxl", "pdfplumber", "anthropic"}


def executable(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def packages(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Pretend exactly these packages are installed."""

    def install(*names: str) -> None:
        def find_spec(name: str) -> ModuleSpec | None:
            return ModuleSpec(name, None) if name in names else None

        monkeypatch.setattr(capabilities, "find_spec", find_spec)

    return install


@pytest.fixture(autouse=True)
def no_system_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine running the tests may have /usr/bin/chromium; the fake machine does not."""
    monkeypatch.setattr(capabilities, "CHROMIUM_CANDIDATES", ())


def test_a_fully_equipped_machine_has_every_capability(tmp_path: Path, packages: Callable[..., None]) -> None:
    bin_dir = tmp_path / "bin"
    executable(bin_dir, "chromium")
    tesseract = executable(bin_dir, "tesseract")
    packages(*EVERY_PACKAGE)
    env = {"PATH": str(bin_dir), "DISPLAY": ":99"}

    assert detect_capabilities(env) == ["ai", "browser", "core", "desktop", "files", "http", "ocr", "office", "pdf"]
    reasons = describe_capabilities(env)
    assert reasons["browser"] == f"Chromium found at {bin_dir / 'chromium'}, playwright installed"
    assert reasons["desktop"] == "display :99, pyautogui installed"
    assert reasons["ocr"] == f"tesseract found at {tesseract}, pytesseract installed"


def test_a_bare_machine_has_only_the_always_available_capabilities(
    tmp_path: Path, packages: Callable[..., None]
) -> None:
    packages()
    env = {"PATH": str(tmp_path / "empty")}

    assert detect_capabilities(env) == ALWAYS
    reasons = describe_capabilities(env)
    assert reasons["browser"].startswith("missing: no Chromium found")
    assert reasons["desktop"] == "missing: no DISPLAY (or WAYLAND_DISPLAY) set"
    assert reasons["ocr"] == "missing: tesseract is not on PATH; install tesseract-ocr"
    assert reasons["office"] == "missing: the openpyxl package; install the office extra"
    assert reasons["pdf"] == "missing: the pdfplumber package; install the office extra"
    assert reasons["ai"] == "missing: the anthropic package; install the ai extra"


def test_system_part_without_its_package_is_not_a_capability(tmp_path: Path, packages: Callable[..., None]) -> None:
    bin_dir = tmp_path / "bin"
    executable(bin_dir, "chromium")
    executable(bin_dir, "tesseract")
    packages("openpyxl")
    env = {"PATH": str(bin_dir), "WAYLAND_DISPLAY": "wayland-0"}

    assert detect_capabilities(env) == ["core", "files", "http", "office"]
    reasons = describe_capabilities(env)
    assert "missing: the playwright package" in reasons["browser"]
    assert "missing: the pyautogui package (display wayland-0)" in reasons["desktop"]
    assert "missing: the pytesseract package" in reasons["ocr"]


def test_package_without_its_system_part_is_not_a_capability(tmp_path: Path, packages: Callable[..., None]) -> None:
    packages(*EVERY_PACKAGE)
    env = {"PATH": str(tmp_path / "empty")}

    assert detect_capabilities(env) == ["ai", "core", "files", "http", "office", "pdf"]


def test_rpa_chromium_wins_and_a_broken_one_is_named(
    tmp_path: Path, packages: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    packages("playwright")
    on_path = executable(tmp_path / "bin", "chromium")
    chosen = executable(tmp_path / "opt", "my-chromium")
    env = {"PATH": str(on_path.parent), "RPA_CHROMIUM": str(chosen)}
    assert find_chromium(env) == str(chosen)

    not_executable = tmp_path / "opt" / "readme.txt"
    not_executable.write_text("no")
    env["RPA_CHROMIUM"] = str(not_executable)
    assert find_chromium(env) == str(on_path)
    assert f"(RPA_CHROMIUM={not_executable} is not an executable file)" in describe_capabilities(env)["browser"]

    monkeypatch.setattr(capabilities, "CHROMIUM_CANDIDATES", (str(chosen),))
    assert find_chromium({"PATH": str(tmp_path / "empty")}) == str(chosen)  # the usual places before PATH


def test_detection_imports_no_heavy_package() -> None:
    heavy = sorted(EVERY_PACKAGE | {"PIL", "cv2"})
    script = (
        "import sys\n"
        "from agent.capabilities import detect_capabilities\n"
        "detect_capabilities({'PATH': '/usr/bin', 'DISPLAY': ':0'})\n"
        f"print(sorted(set({heavy!r}) & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_real_machine_always_reports_the_basics() -> None:
    assert set(ALWAYS) <= set(detect_capabilities())
    assert detect_capabilities() == sorted(detect_capabilities())
