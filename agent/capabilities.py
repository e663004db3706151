"""What this machine can run: the capabilities the agent announces in its hello.

Each capability is one small check that looks for the system part and the Python package it
needs without importing the package (`importlib.util.find_spec`), so detection is quick and has no
side effects (`import pyautogui` without a display raises, for one). `detect_capabilities` gives
the names the orchestrator matches against a flow's `requires`; `describe_capabilities` and
`check_capabilities` say why each one is there or missing (`rpa agent doctor`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.util import find_spec

__all__ = [
    "CHROMIUM_CANDIDATES",
    "CapabilityCheck",
    "check_capabilities",
    "describe_capabilities",
    "detect_capabilities",
    "find_chromium",
]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
"""Where Debian and Ubuntu install Chromium; looked at after `RPA_CHROMIUM`, before PATH."""


@dataclass(frozen=True, slots=True)
class CapabilityCheck:
    """The outcome of one check: `reason` says what was found, or what is missing."""

    name: str
    available: bool
    reason: str


Env = Mapping[str, str]


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install, or a module whose __spec__ is None
        return False


def _which(program: str, env: Env) -> str | None:
    # A PATH-less environment searches the default path, as a shell would; never os.environ's.
    return shutil.which(program, path=env.get("PATH", os.defpath))


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_chromium(env: Env | None = None) -> str | None:
    """The Chromium executable to drive: `RPA_CHROMIUM` when executable, else the usual places.

    Args:
        env: the environment to read `RPA_CHROMIUM` and `PATH` from; default `os.environ`.
    """
    env = os.environ if env is None else env
    configured = env.get("RPA_CHROMIUM")
    if configured and _executable(configured):
        return configured
    for candidate in CHROMIUM_CANDIDATES:
        if _executable(candidate):
            return candidate
    return _which("chromium", env)


def _browser(env: Env) -> CapabilityCheck:
    chromium = find_chromium(env)
    configured = env.get("RPA_CHROMIUM")
    ignored = f" (RPA_CHROMIUM={configured} is not an executable file)" if configured and chromium != configured else ""
    if chromium is None:
        return CapabilityCheck(
            "browser", False, f"missing: no Chromium found{ignored}; install chromium or set RPA_CHROMIUM"
        )
    if not _installed("playwright"):
        return CapabilityCheck(
            "browser",
            False,
            f"missing: the playwright package (Chromium found at {chromium}); install the browser extra",
        )
    return CapabilityCheck("browser", True, f"Chromium found at {chromium}{ignored}, playwright installed")


def _desktop(env: Env) -> CapabilityCheck:
    display = env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    if not display:
        return CapabilityCheck("desktop", False, "missing: no DISPLAY (or WAYLAND_DISPLAY) set")
    if not _installed("pyautogui"):
        return CapabilityCheck(
            "desktop", False, f"missing: the pyautogui package (display {display}); install the desktop extra"
        )
    return CapabilityCheck("desktop", True, f"display {display}, pyautogui installed")


def _ocr(env: Env) -> CapabilityCheck:
    tesseract = _which("tesseract", env)
    if tesseract is None:
        return CapabilityCheck("ocr", False, "missing: tesseract is not on PATH; install tesseract-ocr")
    if not _installed("pytesseract"):
        return CapabilityCheck(
            "ocr", False, f"missing: the pytesseract package (tesseract at {tesseract}); install the ocr extra"
        )
    return CapabilityCheck("ocr", True, f"tesseract found at {tesseract}, pytesseract installed")


def _package(name: str, module: str, extra: str) -> Callable[[Env], CapabilityCheck]:
    def check(env: Env) -> CapabilityCheck:
        if _installed(module):
            return CapabilityCheck(name, True, f"{module} installed")
        return CapabilityCheck(name, False, f"missing: the {module} package; install the {extra} extra")

    return check


def _always(name: str, what: str) -> Callable[[Env], CapabilityCheck]:
    return lambda env: CapabilityCheck(name, True, f"always available ({what})")


_CHECKS: tuple[Callable[[Env], CapabilityCheck], ...] = (
    _always("core", "control flow, data, variables"),
    _always("files", "local file system"),
    _always("http", "HTTP requests"),
    _browser,
    _desktop,
    _ocr,
    _package("office", "openpyxl", "office"),
    _package("pdf", "pdfplumber", "office"),
    _package("ai", "anthropic", "ai"),
)


def check_capabilities(env: Env | None = None) -> list[CapabilityCheck]:
    """Run every check, sorted by capability name.

    Args:
        env: the environment to look at (`PATH`, `DISPLAY`, `RPA_CHROMIUM`…); default `os.environ`.
    """
    env = dict(os.environ) if env is None else env
    return sorted((check(env) for check in _CHECKS), key=lambda c: c.name)


def detect_capabilities(env: Env | None = None) -> list[str]:
    """The names of the capabilities this machine has, sorted (what the agent announces)."""
    return [c.name for c in check_capabilities(env) if c.available]


def describe_capabilities(env: Env | None = None) -> dict[str, str]:
    """Capability name -> why it is available or what is missing, e.g. `"missing: no DISPLAY"`."""
    return {c.name: c.reason for c in check_capabilities(env)}
