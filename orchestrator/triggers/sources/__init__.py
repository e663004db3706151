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
from orchestrator.triggers.sources.database import DatabaseSource, DatabaseSourceConfig
from orchestrator.triggers.sources.email import EmailSource, EmailSourceConfig
from orchestrator.triggers.sources.files import FilesSource, FilesSourceConfig

SOURCES: dict[str, type[TriggerSource]] = {
    "email": EmailSource,
    "files": FilesSource,
    "database": DatabaseSource,
}
"""The source kinds by name, for the framework to register (each class has `kind` and `config_model`)."""

__all__ = [
    "SOURCES",
    "Cursor",
    "DatabaseSource",
    "DatabaseSourceConfig",
    "EmailSource",
    "EmailSourceConfig",
    "Emit",
    "FilesSource",
    "FilesSourceConfig",
    "SourceAttachment",
    "SourceContext",
    "SourceError",
    "SourceEvent",
    "TriggerSource",
]
