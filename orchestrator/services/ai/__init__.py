"""AI on the orchestrator: the flow builder and failure diagnosis, and what they cost.

- `build_flow`: a description (and optionally the current flow) to a flow that validates.
- `diagnose`: a failed execution's stored journal to an explanation and a JSON Patch that applies
  to its flow and validates.
- Both ask a `ModelClient` (`AnthropicModel`, the organisation's key from the vault: `org_model`)
  and retry with the problems of an invalid answer fed back (`ask_until_valid`).
- `record_usage` / `usage_summary`: tokens and cost per organisation (`ai_usage`).
- `reserve_request`: the organisation's requests per minute, counted in `ai_usage` so that every
  orchestrator process on the database shares the budget (`AiBudgetExceeded` when spent).
"""

from orchestrator.services.ai._diagnosis import Diagnosis, diagnose, diagnosis_context, find_failure
from orchestrator.services.ai._flows import build_flow, flow_system_prompt, step_catalogue
from orchestrator.services.ai._limit import AiBudgetExceeded, reserve_request
from orchestrator.services.ai._loop import Outcome, ask_until_valid, json_of
from orchestrator.services.ai._model import PRICES_PER_MTOK, Answer, AnthropicModel, ModelClient, Usage, cost_usd
from orchestrator.services.ai._usage import org_model, record_usage, usage_summary

__all__ = [
    "PRICES_PER_MTOK",
    "AiBudgetExceeded",
    "Answer",
    "AnthropicModel",
    "Diagnosis",
    "ModelClient",
    "Outcome",
    "Usage",
    "ask_until_valid",
    "build_flow",
    "cost_usd",
    "diagnose",
    "diagnosis_context",
    "find_failure",
    "flow_system_prompt",
    "json_of",
    "org_model",
    "record_usage",
    "reserve_request",
    "step_catalogue",
    "usage_summary",
]
