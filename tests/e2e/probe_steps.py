"""A step for the end-to-end tests, loaded by agents through `RPA_STEP_MODULES`:
`probe.count` appends its idempotency key (and its agent's home) to the file named by
`RPA_PROBE_FILE`, so a test can
count, outside any journal, how often each node instance really ran."""

from __future__ import annotations

import os
import time

from pydantic import BaseModel, ConfigDict, Field

from shared.steps import context, step


class CountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=0.0, ge=0, le=60, description="How long the step takes.")


@step("probe.count", params=CountParams, output="The idempotency key.")
def probe_count(params: CountParams) -> str:
    """Record this invocation by idempotency key, then take `seconds`."""
    key = context().idempotency_key
    with open(os.environ["RPA_PROBE_FILE"], "a", encoding="utf-8") as out:
        out.write(f"{key} {os.environ.get('RPA_AGENT_HOME', '-')}\n")  # which agent ran it
    time.sleep(params.seconds)
    return key


STEPS = [probe_count]
