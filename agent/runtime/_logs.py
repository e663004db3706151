"""Step log lines of a run, journaled as `log` events (bounded).

The orchestrator gets them with the run's journal (the studio's monitor and `rpa exec logs` show
them), and a person who started a run on this machine reads them in the tray's run details,
offline too. The lines come already masked
(`StepContext.log` masks them); here each is cut to `MAX_LOG_CHARS` and a run keeps at most
`MAX_LOG_LINES` (then one line says the rest is not kept), so a step that logs in a loop cannot
fill the outbox or the orchestrator's journal.
"""

from __future__ import annotations

import logging
import threading

from agent.outbox import OutboxError, OutboxJournal
from shared.engine._events import LOG

log = logging.getLogger("rpa.agent")

MAX_LOG_LINES = 1000
MAX_LOG_CHARS = 2000


class JournaledLogs:
    """The engine's `on_log` for one run: each line becomes a `log` event of its journal.

    Called from the step's thread (sync steps) or the loop (async steps); the outbox numbers the
    events, so a line lands between the step events around it.

    Args:
        journal: the run's journal in the outbox.
        max_lines: lines kept per run (per process: a resumed run may keep as many again);
            None: `MAX_LOG_LINES`.
        max_chars: characters kept of one line; None: `MAX_LOG_CHARS`.
    """

    def __init__(self, journal: OutboxJournal, *, max_lines: int | None = None, max_chars: int | None = None) -> None:
        self.journal = journal
        self.max_lines = MAX_LOG_LINES if max_lines is None else max_lines
        self.max_chars = MAX_LOG_CHARS if max_chars is None else max_chars
        self.written = 0
        self._lock = threading.Lock()

    def __call__(self, execution_id: str, path: str, level: str, message: str) -> None:
        with self._lock:
            if self.written > self.max_lines:
                return
            if self.written == self.max_lines:
                level, message = "warning", f"more log lines than {self.max_lines}: the rest of this run's are not kept"
            elif len(message) > self.max_chars:
                message = message[: self.max_chars] + " …(cut)"
            self.written += 1
        try:
            self.journal.append_many([(LOG, path, {"level": level, "message": message})])
        except OutboxError as exc:  # a log line never fails the step; the engine meets the outbox itself
            log.warning("execution %s: a log line could not be journaled (%s)", execution_id, exc)
