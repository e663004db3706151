"""The kinds of event sources the runner knows: `register_source(kind, cls)`.

Nothing registers by import side effect: the app registers the sources it ships (and a plugin its
own) before the runner starts. A duplicate kind is an error.
"""

from __future__ import annotations

from pydantic import BaseModel

from orchestrator.triggers.sources._api import TriggerSource

_SOURCES: dict[str, type[TriggerSource]] = {}
_RESERVED = frozenset({"webhook", "schedule", "chain", "event", "manual", "hotkey", "retry"})


def register_source(kind: str, cls: type[TriggerSource]) -> None:
    """Make `kind` a trigger kind run by `cls` (one `cls().run(config, ctx)` per enabled trigger).

    Raises:
        ValueError: the kind is built in or already registered to another class.
    """
    if kind in _RESERVED:
        raise ValueError(f"'{kind}' is a built-in trigger kind; a source needs another name")
    known = _SOURCES.get(kind)
    if known is not None and known is not cls:
        raise ValueError(f"the trigger kind '{kind}' is already registered to {known.__qualname__}")
    _SOURCES[kind] = cls


def register_shipped() -> None:
    """Register the sources shipped in `orchestrator.triggers.sources` (its `SOURCES`, kind ->
    class) and those of plugins (entry points `rpa.trigger_sources`, each a class with its
    `kind`). Called by the app before its runner starts."""
    from importlib.metadata import entry_points

    from orchestrator.triggers import sources

    for kind, cls in sources.SOURCES.items():
        register_source(kind, cls)
    for point in entry_points(group="rpa.trigger_sources"):
        cls = point.load()
        register_source(cls.kind, cls)


def unregister_source(kind: str) -> None:
    """Forget `kind` (tests that register a source of their own)."""
    _SOURCES.pop(kind, None)


def source_class(kind: str) -> type[TriggerSource] | None:
    return _SOURCES.get(kind)


def source_kinds() -> dict[str, type[BaseModel]]:
    """Registered kinds and their settings models."""
    return {kind: cls.config_model for kind, cls in _SOURCES.items()}
