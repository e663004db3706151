"""A step for the agent fault tests, loaded through `RPA_STEP_MODULES`: `probe.timed` appends its
idempotency key and the moment it really started (`time.monotonic()`, one clock for every process
of the machine) to the file named by `RPA_TIMED_FILE`."""

from __future__ import annotations

import os
import time

from pydantic import BaseModel, ConfigDict, Field

from shared.steps import context, step


class TimedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=0.0, ge=0, le=60, description="How long the step takes.")


@step("probe.timed", params=TimedParams, output="The idempotency key.")
def probe_timed(params: TimedParams) -> str:
    """Record when this invocation started, then take `seconds` (a step with outside effects)."""
    key = context().idempotency_key
    with open(os.environ["RPA_TIMED_FILE"], "a", encoding="utf-8") as out:
        out.write(f"{key} {time.monotonic():.6f}\n")
    time.sleep(params.seconds)
    return key


STEPS = [probe_timed]
