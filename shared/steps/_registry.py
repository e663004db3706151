"""The step catalogue: built from an explicit list, plus plugins from entry points."""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any

from shared.errors import DuplicateStepError, UnknownStepError
from shared.steps._api import StepDefinition, definition_of

ENTRY_POINT_GROUP = "rpa.steps"
MODULES_ENV = "RPA_STEP_MODULES"
"""Comma-separated `module:attribute` step lists loaded like plugins, without packaging them
(a step under development, or a test's probe)."""


def _module_specs() -> list[str]:
    return [spec.strip() for spec in os.environ.get(MODULES_ENV, "").split(",") if spec.strip()]


def _load_module_steps(spec: str) -> Any:
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ValueError(f"{MODULES_ENV} entry {spec!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)


log = logging.getLogger(__name__)


class StepRegistry:
    """An immutable-by-convention map of step type to definition.

    Args:
        steps: step functions (decorated with `@step`) or definitions.

    Raises:
        DuplicateStepError: when two steps share a name.
    """

    def __init__(self, steps: Iterable[Callable[..., Any] | StepDefinition] = ()) -> None:
        self._steps: dict[str, StepDefinition] = {}
        self.add(steps)

    def add(self, steps: Iterable[Callable[..., Any] | StepDefinition]) -> None:
        """Add more steps; a name already present is an error."""
        for item in steps:
            definition = definition_of(item)
            if definition.name in self._steps:
                raise DuplicateStepError(f"step type '{definition.name}' is defined twice")
            self._steps[definition.name] = definition

    @classmethod
    def default(cls, *, plugins: bool = True) -> StepRegistry:
        """The built-in steps, plus every `rpa.steps` entry point when `plugins` is true.

        An entry point names a list (or tuple) of step functions. A plugin that fails to load
        is logged and left out, so one broken plugin does not take the catalogue down.
        """
        from shared.steps.builtin import BUILTIN_STEPS

        registry = cls(BUILTIN_STEPS)
        if plugins:
            sources: list[tuple[str, Callable[[], Any]]] = [
                (ep.name, ep.load) for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
            ]
            sources += [(spec, functools.partial(_load_module_steps, spec)) for spec in _module_specs()]
            for name, load in sources:
                try:
                    loaded = load()
                    if hasattr(loaded, "__rpa_step__") or isinstance(loaded, StepDefinition):
                        loaded = [loaded]
                    elif callable(loaded):
                        loaded = loaded()
                    plugin = cls(loaded)
                except DuplicateStepError:
                    raise
                except Exception as exc:  # one broken plugin must not take the catalogue down
                    log.warning("step plugin %s could not be loaded: %s: %s", name, type(exc).__name__, exc)
                    continue
                registry.add(plugin)
        return registry

    def get(self, name: str) -> StepDefinition:
        """The definition of `name`.

        Raises:
            UnknownStepError: with the closest names in the catalogue.
        """
        try:
            return self._steps[name]
        except KeyError:
            raise UnknownStepError(name, self.close_matches(name)) from None

    def close_matches(self, name: str) -> list[str]:
        """Up to three catalogue names that look like `name`."""
        return difflib.get_close_matches(name, list(self._steps), n=3, cutoff=0.6)

    def __contains__(self, name: object) -> bool:
        return name in self._steps

    def __iter__(self) -> Iterator[StepDefinition]:
        return iter(sorted(self._steps.values(), key=lambda d: d.name))

    def __len__(self) -> int:
        return len(self._steps)
