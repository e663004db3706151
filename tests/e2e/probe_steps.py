"""Steps for the end-to-end tests, loaded by agents through `RPA_STEP_MODULES`:
`probe.count` appends its idempotency key (and its agent's home) to the file named by
`RPA_PROBE_FILE`, so a test can
count, outside any journal, how often each node instance really ran."""

from __future__ import annotations

import hashlib
import os
import time

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import StepError
from shared.steps import ASSET_FILE, context, step


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


class ReadAssetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(json_schema_extra=ASSET_FILE, description="A file next to the flow (one of its assets).")


@step("probe.read_asset", params=ReadAssetParams, output="{sha256, size, flow_dir}")
def probe_read_asset(params: ReadAssetParams) -> dict[str, object]:
    """Read a flow-relative file from the run's `flow_dir`, as a desktop image target is read."""
    folder = context().flow_dir
    if folder is None or not (folder / params.path).is_file():
        raise StepError(f"no file '{params.path}' in the flow's folder {folder}", kind="validation")
    data = (folder / params.path).read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "flow_dir": str(folder)}


STEPS = [probe_count, probe_read_asset]
