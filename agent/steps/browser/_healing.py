"""Self-healing: when every selector of a target fails, find the element from its fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.steps.browser._fingerprint import Fingerprint

if TYPE_CHECKING:
    from agent.steps.browser._targets import Located, TargetSpec


@dataclass
class HealOutcome:
    """The element healing accepted (if any) and the closest candidates with their scores."""

    located: Located | None = None
    closest: list[dict[str, Any]] = field(default_factory=list)


async def heal_target(scope: Any, spec: TargetSpec, fingerprint: Fingerprint, *, accept: bool) -> HealOutcome:
    """Score the page's candidates against `fingerprint`; see the module docstring."""
    del scope, spec, fingerprint, accept
    return HealOutcome()
