"""`StepEnvironment`: run one step the way the engine would, without a flow or a server."""

from __future__ import annotations

import asyncio
import contextvars
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.errors import StepError
from shared.expressions import SecretMasker
from shared.steps._api import ExecutionResources, StepContext, _reset_context, _set_context, definition_of


class StepEnvironment:
    """Runs a step function with a real `StepContext`: logs are collected, artifacts land in a
    temporary folder, cancellation can be requested, params are validated like in a flow.

    Example:
        env = StepEnvironment()
        assert await env.run(core_noop, {"value": 3}) == 3
        assert env.logs == []
    """

    def __init__(
        self,
        *,
        execution_id: str = "test-execution",
        path: str = "step",
        attempt: int = 1,
        artifacts_dir: str | Path | None = None,
        mask: Callable[[Any], Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        masker: SecretMasker | None = None,
        flow_dir: str | Path | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.path = path
        self.attempt = attempt
        self.artifacts_dir = Path(artifacts_dir or tempfile.mkdtemp(prefix="rpa-step-"))
        self.masker = masker
        """Masks what `context().add_secret` hands it; without one, `add_secret` refuses."""
        self.mask = mask or (masker.mask if masker is not None else (lambda value: value))
        self.logs: list[tuple[str, str]] = []
        self.cancel_event = threading.Event()
        self.secrets = dict(secrets or {})
        self.resources = ExecutionResources()
        """Shared by every `run` of this environment, as by the steps of one execution; `aclose()`
        closes them like the end of an execution."""
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.flow_dir = Path(flow_dir) if flow_dir is not None else None
        """What `context().flow_dir` shows: where the flow's assets sit."""

    def cancel(self) -> None:
        """Make `context().is_cancelled()` true."""
        self.cancel_event.set()

    async def aclose(self) -> None:
        """Close the execution resources the steps left open, as the engine does at the end."""
        await self.resources.aclose()

    async def run(self, step_fn: Callable[..., Any], params: Mapping[str, Any] | None = None) -> Any:
        """Validate `params` and run the step; sync steps run in a worker thread.

        Raises:
            StepError: as the step raised it, or kind `validation` for bad params.
        """
        definition = definition_of(step_fn)
        if definition.fn is None:
            raise TypeError(f"{definition.name} is run by the engine, not on its own")
        try:
            model = definition.params.model_validate(dict(params or {}))
        except ValidationError as err:
            raise StepError(f"invalid params: {err}", kind="validation", retryable=False) from None
        ctx = StepContext(
            execution_id=self.execution_id,
            path=self.path,
            step_type=definition.name,
            attempt=self.attempt,
            artifacts_root=self.artifacts_dir,
            mask=self.mask,
            log_sink=lambda _path, level, message: self.logs.append((level, message)),
            cancel_event=self.cancel_event,
            secrets=self.secrets.get,
            secret_sink=self.masker.add if self.masker is not None else None,
            resources=self.resources,
            note_sink=lambda _path, kind, data: self.notes.append((kind, data)),
            flow_dir=self.flow_dir,
        )
        token = _set_context(ctx)
        try:
            if definition.is_async:
                return await definition.fn(model)
            return await asyncio.get_running_loop().run_in_executor(
                None, contextvars.copy_context().run, definition.fn, model
            )
        finally:
            _reset_context(token)
