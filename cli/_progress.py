"""The live progress view of `rpa run`: which nodes run, their attempt and elapsed time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shared.engine import Event

if TYPE_CHECKING:
    from shared.engine import ExecutionResult

_STYLE = {"succeeded": "green", "failed": "red", "skipped": "yellow", "cancelled": "magenta", "timed_out": "red"}


class Progress:
    """Folds journal events into a small live table; prints a summary at the end."""

    def __init__(self, console: Console, flow_name: str, execution_id: str) -> None:
        self.console = console
        self.flow_name = flow_name
        self.execution_id = execution_id
        self.running: dict[str, tuple[str, int, float]] = {}
        self.counts = {"succeeded": 0, "failed": 0, "skipped": 0, "retried": 0}
        self.started = time.monotonic()
        self.replayed = 0
        self.live = Live(console=console, refresh_per_second=8, transient=True, get_renderable=self.render)

    def __enter__(self) -> Progress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def on_events(self, events: Sequence[Event]) -> None:
        """Journal listener."""
        for event in events:
            data = event.data
            if event.type == "node.started":
                self.running[event.path] = (str(data.get("type", "")), int(data.get("attempt", 1)), time.monotonic())
            elif event.type == "node.succeeded":
                self.running.pop(event.path, None)
                self.counts["succeeded"] += 1
            elif event.type == "node.failed":
                self.running.pop(event.path, None)
                self.counts["retried" if data.get("will_retry") else "failed"] += 1
                if not data.get("will_retry"):
                    error = data.get("error") or {}
                    self.console.print(f"[red]✗[/] {event.path}: {error.get('message')}", highlight=False)
            elif event.type == "node.skipped":
                self.running.pop(event.path, None)
                self.counts["skipped"] += 1

    def log(self, execution_id: str, path: str, level: str, message: str) -> None:
        """Step log lines, printed above the live table."""
        style = {"error": "red", "warning": "yellow", "debug": "dim"}.get(level, "")
        self.console.print(Text(f"{path}: {message}", style=style))

    def render(self) -> RenderableType:
        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("running", "step", "attempt", "elapsed"):
            table.add_column(column)
        now = time.monotonic()
        for path, (kind, attempt, since) in list(self.running.items())[:12]:
            table.add_row(path, kind, str(attempt), f"{now - since:.1f}s")
        counts = "  ".join(f"{k} {v}" for k, v in self.counts.items())
        head = Text(f"{self.flow_name} · {now - self.started:.1f}s · {counts}", style="bold")
        return Group(head, table)

    def summary(self, result: ExecutionResult) -> None:
        """The closing lines: status, outputs, and the failing node."""
        style = _STYLE.get(result.status, "")
        elapsed = time.monotonic() - self.started
        self.console.print(
            f"[{style}]{result.status}[/] {self.flow_name} in {elapsed:.2f}s · execution {result.execution_id} · "
            + ", ".join(f"{k} {v}" for k, v in self.counts.items()),
            highlight=False,
        )
        if result.error:
            node = result.error.get("node")
            where = f"node '{node}' " if node else ""
            self.console.print(f"[red]{where}failed: {result.error.get('message')}[/]", highlight=False)
        if result.outputs:
            self.console.print_json(data=_jsonable(result.outputs))


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
