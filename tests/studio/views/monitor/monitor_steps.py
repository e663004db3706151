"""A step for the monitor's end-to-end tests, loaded by the orchestrator and the agent through
`RPA_STEP_MODULES`: `monitor.shot` saves a small PNG artifact, as a screenshot step would."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.steps import context, step


def png(width: int, height: int) -> bytes:
    """A blue PNG of `width` x `height`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x60\xd0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class ShotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The artifact's file name.")


@step("monitor.shot", params=ShotParams, output="the artifact")
def shot(params: ShotParams) -> dict[str, Any]:
    """Save a 40x30 PNG as an artifact."""
    context().log(f"saving {params.name}")
    return context().save_artifact(params.name, png(40, 30), content_type="image/png")


STEPS = [shot]
