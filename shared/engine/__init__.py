"""The durable engine: an async interpreter of one flow execution, journaled event by event."""

from shared.engine._engine import Engine, ExecutionResult, FileFlowLoader, FlowLoader
from shared.engine._events import EVENT_TYPES, Event
from shared.engine._hooks import ExecutionHooks, NodeStop, PauseGate, rerun_events
from shared.engine._journal import EVENTS_SCHEMA, Journal, MemoryJournal, SqliteJournal
from shared.engine._restart import RESTART_POINT, RestartFrom
from shared.engine._state import ExecutionState, NodeResult, fold

__all__ = [
    "EVENTS_SCHEMA",
    "EVENT_TYPES",
    "RESTART_POINT",
    "Engine",
    "Event",
    "ExecutionHooks",
    "ExecutionResult",
    "ExecutionState",
    "FileFlowLoader",
    "FlowLoader",
    "Journal",
    "MemoryJournal",
    "NodeResult",
    "NodeStop",
    "PauseGate",
    "RestartFrom",
    "SqliteJournal",
    "fold",
    "rerun_events",
]
