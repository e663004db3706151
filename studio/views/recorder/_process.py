"""The recorder process (`python -m agent.recorder browser URL`) as a `QProcess`.

The studio never imports `agent`: it starts the recorder as a process and speaks its JSON-lines
protocol (agent/recorder/README.md). stdout holds one event per line; stderr is diagnostics,
kept for the error message when the process dies without a fatal `error` event.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal


class RecorderProcess(QObject):
    """One running recorder.

    Args:
        url: the page the browser opens.
        args: more recorder options (`--credential erp`, `--healed journal.db`, `--cdp-port 0`).
        env: variables added to the studio's environment (`DISPLAY` in tests); None removes one.
        parent: the Qt parent.
    """

    received = Signal(dict)
    """Each protocol event, in order."""
    ended = Signal(int)
    """The process ended (its exit code)."""

    def __init__(
        self,
        url: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str | None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.url = url
        self.events: list[dict[str, Any]] = []
        self.stderr = ""
        self.ready: dict[str, Any] | None = None
        self._buffer = b""
        self.process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        for key, value in (env or {}).items():
            if value is None:
                environment.remove(key)
            else:
                environment.insert(key, value)
        self.process.setProcessEnvironment(environment)
        self.process.setProgram(sys.executable)
        self.process.setArguments(["-m", "agent.recorder", "browser", url, *args])
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)

    def start(self) -> None:
        """Start the process (events follow on `received`)."""
        self.process.start()

    @property
    def running(self) -> bool:
        """The process runs."""
        return self.process.state() != QProcess.ProcessState.NotRunning

    def send(self, command: dict[str, Any]) -> None:
        """Write one command line to the recorder's stdin."""
        if self.running:
            self.process.write((json.dumps(command) + "\n").encode("utf-8"))

    def stop(self) -> None:
        """Ask the recorder to stop (it answers `stopped` and exits)."""
        self.send({"cmd": "stop"})

    def kill(self) -> None:
        """End the process now (the window closes), and wait for it."""
        if self.running:
            self.process.kill()
            self.process.waitForFinished(5000)

    def _read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"event": "error", "kind": "protocol", "message": "an unreadable line", "fatal": False}
            if event.get("event") == "ready":
                self.ready = event
            self.events.append(event)
            self.received.emit(event)

    def _read_stderr(self) -> None:
        self.stderr += bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")

    def _finished(self, code: int, _status: Any = None) -> None:
        self._read()
        self.ended.emit(code)
