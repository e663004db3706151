"""`core.*`: logging, waiting, failing on purpose, doing nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BusinessError, StepError
from shared.steps._api import context, step


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogParams(_Params):
    message: Any = Field(description="What to write (non-strings are written as JSON-like text).")
    level: Literal["debug", "info", "warning", "error"] = "info"


class WaitParams(_Params):
    seconds: float = Field(ge=0, le=86_400, description="How long to wait.")


class FailParams(_Params):
    message: str = Field(description="Why the flow fails here.")
    kind: str = Field(default="business", description="Error kind ('business' is never retried).")
    retryable: bool = False


class NoopParams(_Params):
    value: Any = Field(default=None, description="Returned unchanged as the output.")


@step("core.log", params=LogParams, output="The message.", effects=False)
async def core_log(params: LogParams) -> Any:
    """Write a line to the execution log."""
    text = params.message if isinstance(params.message, str) else json.dumps(params.message, default=str)
    context().log(text, params.level)
    return params.message


@step("core.wait", params=WaitParams, output="The seconds waited.", effects=False)
async def core_wait(params: WaitParams) -> float:
    """Pause the branch for a number of seconds (cancellable)."""
    await asyncio.sleep(params.seconds)
    return params.seconds


@step("core.fail", params=FailParams, output="Never returns.", effects=False)
async def core_fail(params: FailParams) -> None:
    """Fail the node with a message and an error kind."""
    if params.kind == "business":
        raise BusinessError(params.message)
    raise StepError(params.message, kind=params.kind, retryable=params.retryable)


@step("core.noop", params=NoopParams, output="The value param.", effects=False)
async def core_noop(params: NoopParams) -> Any:
    """Do nothing; pass a value through (useful as a join or a placeholder)."""
    return params.value


CORE_STEPS = (core_log, core_wait, core_fail, core_noop)
