"""Tray tests run Qt offscreen (no display, no tray: the fallback window) unless a test starts
its own Xvfb and tray host."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
