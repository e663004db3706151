"""The one lock around pdfium, which is not thread-safe.

Sync steps run in a thread pool, so a `pdf.*` step and an `ocr.read_pdf` step in parallel
branches could call into pdfium at once; every family that uses pypdfium2 holds this lock from
opening a document until it is closed.
"""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.RLock()
