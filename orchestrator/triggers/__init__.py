"""Triggers: what starts executions on its own (webhooks, schedules, e-mail, files, database
changes, chains, events), each event starting one execution exactly once.

- `_kinds.py`: each kind's settings model; `_registry.py`: `register_source` for source kinds;
- `_fire.py`: `Firer`, one event → one execution (event row and execution in one transaction);
- `_schedule.py` (pure due times), `_schedule_task.py`, `_source_task.py`: the per-trigger tasks;
- `_runner.py`: `TriggerRunner`, leases and tasks; `_bus.py`: `EventBus`, events and chains;
- `_webhook.py`: signature checks; `_hook_cache.py`: webhooks by token, kept a moment;
- `_store.py`: the API's service; `_schemas.py`: its shapes.
"""

from orchestrator.triggers._bus import EventBus, Published
from orchestrator.triggers._fire import Fired, Firer, MappingError, TriggerSpec, map_inputs
from orchestrator.triggers._hook_cache import HookCache, config_changed
from orchestrator.triggers._kinds import (
    ChainConfig,
    EventConfig,
    ScheduleConfig,
    Signature,
    WebhookConfig,
    config_model,
    parse_config,
)
from orchestrator.triggers._registry import (
    register_shipped,
    register_source,
    source_class,
    source_kinds,
    unregister_source,
)
from orchestrator.triggers._runner import Clock, TriggerRunner
from orchestrator.triggers._schedule import Schedule
from orchestrator.triggers._webhook import VaultKeys, sign, verify

__all__ = [
    "ChainConfig",
    "Clock",
    "EventBus",
    "EventConfig",
    "Fired",
    "Firer",
    "HookCache",
    "MappingError",
    "Published",
    "Schedule",
    "ScheduleConfig",
    "Signature",
    "TriggerRunner",
    "TriggerSpec",
    "VaultKeys",
    "WebhookConfig",
    "config_changed",
    "config_model",
    "map_inputs",
    "parse_config",
    "register_shipped",
    "register_source",
    "sign",
    "source_class",
    "source_kinds",
    "unregister_source",
    "verify",
]
