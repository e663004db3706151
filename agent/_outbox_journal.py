"""The values `agent.outbox` hands out: the job journal, job records and errors.

Exceptions::

    OutboxError                an operation that would lose or corrupt a job's events
    ├── StaleJournalError      a journal written after its job was forgotten or reassigned
    └── OutboxWriteError       the file cannot be written (disk full, read-only, I/O error)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.engine import Event

EventSpec = tuple[str, str, dict[str, Any]]
"""(type, path, data) of an event still to be numbered, as the engine passes it."""

Listener = Callable[[Sequence[Event]], object]
"""Called with each stored batch; what it returns is ignored."""


class OutboxError(Exception):
    """An outbox operation that would lose or corrupt a job's events."""


class StaleJournalError(OutboxError):
    """A journal was written after its job was forgotten or reassigned to another attempt."""


class OutboxWriteError(OutboxError):
    """The outbox file cannot be written now (disk full, read-only, I/O error); nothing of the
    refused transaction was stored.

    Attributes:
        cause: SQLite's own words, e.g. "database or disk is full".
    """

    def __init__(self, path: object, cause: str) -> None:
        super().__init__(f"the outbox {path} cannot be written: {cause}")
        self.cause = cause


@dataclass(frozen=True, slots=True)
class JobRecord:
    """What the outbox knows about one job.

    Attributes:
        execution_id: the execution.
        attempt: the attempt the agent runs (from job.assign).
        last_seq: the highest stored sequence number (0 when there are no events).
        acked_seq: the highest sequence number the orchestrator acknowledged.
        finished: `Outbox.mark_finished` was called.
        assignment: the job.assign payload, without its `secrets`.
    """

    execution_id: str
    attempt: int
    last_seq: int
    acked_seq: int
    finished: bool
    assignment: dict[str, Any]

    @property
    def fully_acked(self) -> bool:
        """Every stored event is acknowledged."""
        return self.acked_seq >= self.last_seq


class OutboxJournal:
    """The engine's `Journal` over one job of an `Outbox`; made by `Outbox.open_job`.

    Each `append_many` is one transaction; listeners added with `subscribe` are called with the
    batch once it is on disk, which is when the runtime may send it.

    Args:
        execution_id: the execution.
        attempt: the attempt this journal writes for; a job reassigned to another attempt
            refuses its writes.
        append: stores a batch for (execution_id, attempt) and returns it numbered.
        read: returns the stored events of execution_id after a sequence number.
    """

    def __init__(
        self,
        execution_id: str,
        attempt: int,
        *,
        append: Callable[[str, int, Sequence[EventSpec]], list[Event]],
        read: Callable[[str, int], list[Event]],
    ) -> None:
        self.execution_id = execution_id
        self.attempt = attempt
        self._append = append
        self._read = read
        self._listeners: list[Listener] = []
        self._closed = False

    def append_many(self, events: Sequence[EventSpec]) -> list[Event]:
        """Number and store `events` atomically, tell the listeners, and return them.

        Raises:
            StaleJournalError: the job was forgotten or reassigned to another attempt.
            OutboxError: this journal was closed.
        """
        if self._closed:
            raise OutboxError(f"the journal of execution {self.execution_id} is closed")
        if not events:
            return []
        batch = self._append(self.execution_id, self.attempt, events)
        for listener in self._listeners:
            listener(batch)
        return batch

    def read(self, after_seq: int = 0) -> list[Event]:
        """Stored events with `seq > after_seq`, in order, acknowledged or not."""
        return self._read(self.execution_id, after_seq)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with each batch right after it is stored."""
        self._listeners.append(listener)

    def close(self) -> None:
        """Stop writing through this journal; the outbox and the events stay."""
        self._closed = True
