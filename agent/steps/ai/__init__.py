"""AI steps (`ai.*`) on Anthropic's Messages API: extract, classify, summarize, generate,
translate, decide (a router), vision and locate.

The anthropic SDK, jsonschema, Pillow and pypdfium2 are imported inside the steps, so the agent
starts without them. Every step's output carries `usage: {input_tokens, output_tokens, cost_usd,
model}` (prices in `shared/ai_prices.py`); the orchestrator sums them per execution.
"""

from __future__ import annotations

from agent.steps.ai._client import AiParams
from agent.steps.ai._errors import map_anthropic_errors
from agent.steps.ai._extract import decide, extract
from agent.steps.ai._text_steps import classify, generate, summarize, translate
from agent.steps.ai._vision import locate, vision
from shared.ai_prices import PRICES, cost_usd

__all__ = ["AI_STEPS", "PRICES", "AiParams", "cost_usd", "map_anthropic_errors"]

AI_STEPS = (extract, classify, summarize, generate, translate, decide, vision, locate)
