"""The browser recorder and element picker: a Qt-free process the studio runs and reads.

`python -m agent.recorder browser URL` (or `rpa record browser URL`) opens a headed Chromium,
records what the user does as `browser.*` flow nodes and answers picker commands, speaking
JSON lines (protocol in `README.md`). Modules: `_protocol` (events, commands, the masked
writer), `_adapter` (the one adapter to Playwright's recorder), `_codegen` (the fallback
reader of `playwright codegen` output), `_nodes` (actions to nodes, pure), `_elements`
(target descriptors), `_picker` (pick, test_selector, highlight), `_healed` (fixes from
journals), `_session` (the running process), `_cli` (the command line).
"""

from agent.recorder._adapter import RecordedAction, RecordingAdapter
from agent.recorder._healed import JournalReadError, read_fixes
from agent.recorder._nodes import ElementInfo, FlowBuilder, NodeChange, credential_name_for, looks_secret
from agent.recorder._protocol import PROTOCOL_VERSION, CommandError, Emitter, parse_command

__all__ = [
    "PROTOCOL_VERSION",
    "CommandError",
    "ElementInfo",
    "Emitter",
    "FlowBuilder",
    "JournalReadError",
    "NodeChange",
    "RecordedAction",
    "RecordingAdapter",
    "credential_name_for",
    "looks_secret",
    "parse_command",
    "read_fixes",
]
