"""The language model behind the AI routes: one call (`ModelClient.ask`), its usage, its price.

The routes talk to a `ModelClient`; `AnthropicModel` is the real one (the anthropic SDK, imported
only when a call is made, with an explicit timeout and retry count: the SDK's defaults wait for
minutes). Every SDK failure becomes an `ApiError` at one place (`_map_errors`), and no message
carries the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.errors import ApiError
from shared.ai_prices import PRICES
from shared.ai_prices import cost_usd as priced

PRICES_PER_MTOK = PRICES
"""The one editable price table (`shared/ai_prices.py`), shared with the agent's `ai.*` steps."""


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """The price of `input_tokens` + `output_tokens` of `model`, in USD (0 for an unknown model,
    whose tokens are still recorded)."""
    return priced(model, input_tokens, output_tokens) or 0.0


@dataclass
class Usage:
    """Tokens used so far by one request (over all its attempts)."""

    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens


@dataclass(frozen=True)
class Answer:
    """The text of one model answer and what it used."""

    text: str
    usage: Usage = field(default_factory=Usage)


class ModelClient(Protocol):
    """One model, asked one conversation at a time."""

    model: str

    async def ask(self, system: str, messages: Sequence[dict[str, Any]]) -> Answer:
        """The model's answer to `messages` (Messages-API form: `{"role", "content"}`)."""
        ...


@contextmanager
def _map_errors() -> Iterator[None]:
    """The anthropic SDK's failures as the API's refusals (502 when the model cannot be asked)."""
    import anthropic

    try:
        yield
    except anthropic.RateLimitError:
        raise ApiError(
            "the AI provider refused: rate limit reached; try again later", code="ai_rate_limited", status=503
        ) from None
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError):
        raise ApiError(
            "the AI provider refused the organisation's AI credential", code="ai_credential_rejected", status=502
        ) from None
    except anthropic.APITimeoutError:
        raise ApiError("the AI provider did not answer in time", code="ai_timeout", status=504) from None
    except anthropic.APIConnectionError:
        raise ApiError("the AI provider cannot be reached", code="ai_unavailable", status=502) from None
    except anthropic.APIStatusError as exc:
        raise ApiError(f"the AI provider answered {exc.status_code}", code="ai_unavailable", status=502) from None


class AnthropicModel:
    """A `ModelClient` over the anthropic SDK's Messages API."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 1,
        max_tokens: int = 8192,
    ) -> None:
        self.model = model
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout_s,
            "max_retries": max_retries,
        }
        self._max_tokens = max_tokens

    async def ask(self, system: str, messages: Sequence[dict[str, Any]]) -> Answer:
        import anthropic

        with _map_errors():
            async with anthropic.AsyncAnthropic(**self._options) as client:
                message = await client.messages.create(
                    model=self.model,
                    max_tokens=self._max_tokens,
                    system=system,
                    messages=list(messages),  # type: ignore[arg-type]
                )
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
        if message.stop_reason == "refusal":
            raise ApiError("the model refused the request", code="ai_refused", status=502)
        return Answer(text, usage)
