"""The params every `ai.*` step shares, the API client kept per execution, and one call.

The SDK's own defaults (a 10-minute read timeout, 2 retries) are never used: every client gets
the step's explicit `timeout` and `max_retries`. The client lives in the execution's resources,
so consecutive AI steps reuse its connection pool; the engine closes it when the execution ends.
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.steps.ai._errors import map_anthropic_errors
from shared.ai_prices import cost_usd
from shared.errors import MissingDependency, StepError
from shared.steps import CREDENTIAL_NAME, context

__all__ = ["DEFAULT_BASE_URL", "AiParams", "Reply", "add_usage", "ask", "tool_input"]

DEFAULT_BASE_URL = "https://api.anthropic.com"


class AiParams(BaseModel):
    """Connection and model settings shared by every `ai.*` step."""

    model_config = ConfigDict(extra="forbid")

    credential: str | None = Field(
        None,
        min_length=1,
        json_schema_extra=CREDENTIAL_NAME,
        description="Credential name holding the Anthropic API key; empty: the ANTHROPIC_API_KEY variable.",
    )
    model: str = Field("claude-sonnet-4-5", min_length=1, description="Model id (priced in shared/ai_prices.py).")
    max_tokens: int = Field(1024, ge=1, le=64000, description="Most tokens the model may write.")
    temperature: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Sampling temperature (0: most repeatable); empty: the model's own. Older models only.",
    )
    timeout: float = Field(60.0, gt=0, le=600, description="Seconds one API call may take.")
    max_retries: int = Field(
        2, ge=0, le=10, description="SDK retries with backoff on network errors, 429 and 5xx, before the step fails."
    )
    base_url: str | None = Field(
        None, min_length=1, description="API base URL; empty: ANTHROPIC_BASE_URL, else Anthropic's."
    )


class Reply:
    """One model answer: its content blocks, stop reason and usage (tokens, cost, model)."""

    def __init__(self, message: Any, usage: dict[str, Any]) -> None:
        self.message = message
        self.usage = usage

    @property
    def text(self) -> str:
        """The answer's text blocks, joined."""
        return "".join(b.text for b in self.message.content if b.type == "text").strip()

    @property
    def stop_reason(self) -> str | None:
        return str(self.message.stop_reason) if self.message.stop_reason else None


def add_usage(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Usage of two calls summed (cost None if either is unpriced)."""
    a, b = first.get("cost_usd"), second.get("cost_usd")
    return {
        "input_tokens": first["input_tokens"] + second["input_tokens"],
        "output_tokens": first["output_tokens"] + second["output_tokens"],
        "cost_usd": None if a is None or b is None else round(a + b, 6),
        "model": second["model"],
    }


def _base_url(params: AiParams) -> str:
    return (params.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


async def _close(client: Any) -> None:
    await client.close()


def _client(params: AiParams) -> Any:
    try:
        import anthropic
    except ImportError as exc:
        raise MissingDependency("anthropic", extra="ai") from exc
    ctx = context()
    base_url = _base_url(params)
    # The key's *name* and the settings identify a client; the key itself is never in the id.
    res_id = f"ai:client:{params.credential or '$ANTHROPIC_API_KEY'}:{base_url}:{params.timeout}:{params.max_retries}"
    client = ctx.resources.get(res_id)
    if client is not None:
        return client
    key = ctx.secret(params.credential) if params.credential else os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise StepError(
            "no Anthropic API key: give the step a `credential` name or set ANTHROPIC_API_KEY on the agent",
            kind="authentication",
            retryable=False,
        )
    client = anthropic.AsyncAnthropic(
        api_key=key, base_url=base_url, timeout=params.timeout, max_retries=params.max_retries
    )
    ctx.resources.put(res_id, client, close=_close)
    return client


@functools.cache
def _sdk_takes_temperature() -> bool:
    """Whether the installed SDK's `messages.create` has a `temperature` argument."""
    import anthropic

    return "temperature" in inspect.signature(anthropic.resources.messages.AsyncMessages.create).parameters


async def ask(
    params: AiParams,
    messages: list[dict[str, Any]],
    *,
    system: str = "",
    tool: dict[str, Any] | None = None,
) -> Reply:
    """Send one Messages-API request (forcing `tool` when given) and account for its usage.

    Raises:
        StepError: the API's errors (see `_errors`), or kind `refusal` when the model refused.
    """
    client = _client(params)
    where = f"the Anthropic API at {_base_url(params)}"
    kwargs: dict[str, Any] = {
        "model": params.model,
        "max_tokens": params.max_tokens,
        "messages": messages,
        "timeout": params.timeout,
    }
    if params.temperature is not None:
        # The installed SDK (2.17) has no `temperature` argument (newer models fix sampling);
        # the API still reads it for older models, so it goes in the body unless the SDK takes it.
        if _sdk_takes_temperature():
            kwargs["temperature"] = params.temperature
        else:
            kwargs["extra_body"] = {"temperature": params.temperature}
    if system:
        kwargs["system"] = system
    if tool is not None:
        kwargs["tools"] = [tool]
        kwargs["tool_choice"] = {"type": "tool", "name": tool["name"]}
    with map_anthropic_errors(where):
        message = await client.messages.create(**kwargs)
    model = str(message.model or params.model)
    inp, out = int(message.usage.input_tokens), int(message.usage.output_tokens)
    usage = {"input_tokens": inp, "output_tokens": out, "cost_usd": cost_usd(model, inp, out), "model": model}
    ctx = context()
    ctx.log(f"{model}: {inp} input + {out} output tokens, cost {usage['cost_usd']} USD", "debug")
    ctx.note("ai_usage", usage)  # the orchestrator sums these per execution
    if message.stop_reason == "refusal":
        raise StepError(
            f"the model {model} refused the request (stop_reason refusal)",
            kind="refusal",
            retryable=False,
            details={"usage": usage},
        )
    return Reply(message, usage)


def tool_input(reply: Reply, name: str) -> dict[str, Any]:
    """The input the model gave tool `name`.

    Raises:
        StepError: kind `ai_output` when the answer has no such call (e.g. cut by max_tokens).
    """
    for block in reply.message.content:
        if block.type == "tool_use" and block.name == name:
            return dict(block.input) if isinstance(block.input, dict) else {}
    hint = " (raise max_tokens)" if reply.stop_reason == "max_tokens" else ""
    raise StepError(
        f"the model did not answer with the '{name}' tool (stop_reason {reply.stop_reason}){hint}",
        kind="ai_output",
        retryable=False,
        details={"usage": reply.usage},
    )
