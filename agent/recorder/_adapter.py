"""The one adapter to Playwright's own recorder (`BrowserContext._start_recording`).

Playwright's recorder watches the user in the page and streams each action with the selector
its locator generator chose (test id, then role + name, placeholder, label, text...), so we
never write a locator generator. The entry point is private: it is reached here and nowhere
else, the tested Playwright versions are pinned in `pyproject.toml` (the `browser` extra), and
`tests/agent/recorder/test_adapter_contract.py` fails the day the shape this module relies on
changes. If it goes away, `_codegen.py` reads `playwright codegen --target python-async` output
into the same `RecordedAction`s.

What it streams (Playwright 1.65): `actionAdded(page, action, code)`, `actionUpdated(...)` (the
last action grew: more text typed into the same field) and `signalAdded(page, signal, code)` (the
last action opened a popup, started a download, raised a dialog). `action` is a dict with
`name` (`openPage`, `closePage`, `navigate`, `click`, `fill`, `press`, `select`, `check`,
`uncheck`, `setInputFiles`...) and, for element actions, `selector` (iframes included as
`... >> internal:control=enter-frame >> ...`). Its `ariaSnapshot` holds the values of every
field, passwords included, and `code` repeats typed text: both are dropped right here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["DROPPED_KEYS", "RecordedAction", "RecordingAdapter"]

Kind = Literal["added", "updated", "signal"]

DROPPED_KEYS = frozenset({"ariaSnapshot", "ref"})
"""Keys of Playwright's action dicts never passed on (the snapshot holds field values)."""


@dataclass(frozen=True)
class RecordedAction:
    """One recorder event, in our words.

    `kind` is `added` (a new action), `updated` (the last action changed: replace it) or
    `signal` (something the last action caused: `data["name"]` is `popup`, `download`,
    `dialog` or `navigation`).
    """

    kind: Kind
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    page: Any = None
    """The public `playwright.async_api.Page` the action happened in (None if unknown)."""


Sink = Callable[[RecordedAction], None]


class _EventSink:
    """The object Playwright calls back (by method name), turning each call into a `RecordedAction`."""

    def __init__(self, context: Any, sink: Sink) -> None:
        self._context = context
        self._sink = sink

    def _public_page(self, impl_page: Any) -> Any:
        # Playwright hands over its implementation object; the public wrapper is the page of
        # our context whose `_impl_obj` it is (a page not yet wrapped is looked up again later).
        for page in self._context.pages:
            if getattr(page, "_impl_obj", None) is impl_page:
                return page
        return None

    def _forward(self, kind: Kind, impl_page: Any, data: Any) -> None:
        raw = dict(data) if isinstance(data, dict) else {}
        clean = {k: v for k, v in raw.items() if k not in DROPPED_KEYS}
        self._sink(RecordedAction(kind, str(clean.pop("name", "")), clean, self._public_page(impl_page)))

    def action_added(self, page: Any, data: Any, code: str) -> None:
        self._forward("added", page, data)

    def action_updated(self, page: Any, data: Any, code: str) -> None:
        self._forward("updated", page, data)

    def signal_added(self, page: Any, data: Any, code: str) -> None:
        self._forward("signal", page, data)


class RecordingAdapter:
    """Start and stop Playwright's recorder on one browser context."""

    def __init__(self, context: Any, sink: Sink) -> None:
        """Args:
        context: a `playwright.async_api.BrowserContext`.
        sink: called (on the event loop) with each `RecordedAction`.
        """
        self._context = context
        self._sink = sink
        self.recording = False

    @staticmethod
    def supported(context: Any) -> bool:
        """Whether this Playwright still has the private recorder entry point."""
        impl = getattr(context, "_impl_obj", None)
        return callable(getattr(impl, "_start_recording", None)) and callable(getattr(impl, "_stop_recording", None))

    async def start(self) -> None:
        """Start recording (again: picking an element stops Playwright's recording mode)."""
        if self.recording:
            return
        await self._context._impl_obj._start_recording(
            {"language": "python-async"}, _EventSink(self._context, self._sink)
        )
        self.recording = True

    async def stop(self) -> None:
        """Stop recording; pending actions are flushed to the sink first."""
        if not self.recording:
            return
        self.recording = False
        await self._context._impl_obj._stop_recording()
