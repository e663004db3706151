"""Event sources that watch something outside the orchestrator (a mailbox, a folder, a bucket,
a database) and hand each new thing to the trigger framework as one `SourceEvent`.

A source knows its system; the framework knows executions. The contract between them is
`orchestrator.triggers.sources._api`.
"""

from orchestrator.triggers.sources._api import (
    Cursor,
    Emit,
    SourceAttachment,
    SourceContext,
    SourceError,
    SourceEvent,
    TriggerSource,
)

__all__ = [
    "Cursor",
    "Emit",
    "SourceAttachment",
    "SourceContext",
    "SourceError",
    "SourceEvent",
    "TriggerSource",
]
