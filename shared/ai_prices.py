"""Prices per model, in US dollars per million tokens: the ONE table to edit when prices change.

The agent's `ai.*` steps price each call with it, and the orchestrator its own AI routes (flow
builder, diagnosis).

A model id matches the longest key it starts with, so dated ids (`claude-sonnet-4-5-20250929`)
find their family. A model missing here gets `cost_usd: null` in the step's usage.
"""

from __future__ import annotations

__all__ = ["PRICES", "cost_usd"]

PRICES: dict[str, tuple[float, float]] = {
    # model id prefix: (input, output) USD per million tokens
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """The cost of one call, rounded to 1e-6 USD; None when the model has no price."""
    keys = [k for k in PRICES if model.startswith(k)]
    if not keys:
        return None
    price_in, price_out = PRICES[max(keys, key=len)]
    return round((input_tokens * price_in + output_tokens * price_out) / 1_000_000, 6)
