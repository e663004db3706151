"""Text in, text out: `ai.summarize`, `ai.generate`, `ai.translate`, and `ai.classify`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from agent.steps.ai._client import AiParams, ask, tool_input
from shared.errors import StepError
from shared.steps import step

__all__ = ["classify", "generate", "summarize", "translate"]


def _text_output(reply: Any) -> dict[str, Any]:
    return {"text": reply.text, "stop_reason": reply.stop_reason, "usage": reply.usage}


class SummarizeParams(AiParams):
    text: str = Field(min_length=1, description="The text to summarize.")
    style: Literal["paragraph", "bullets"] = Field("paragraph", description="One paragraph or a bullet list.")
    max_words: int | None = Field(None, ge=1, description="About how many words at most.")
    instructions: str = Field("", description="Extra instructions (focus, audience, language).")


@step("ai.summarize", params=SummarizeParams, output="{text, stop_reason, usage}")
async def summarize(p: SummarizeParams) -> dict[str, Any]:
    """Summarize a text.

    Example node: `{"id": "sum", "type": "ai.summarize", "params": {"text": "{{ inputs.mail_body }}",
    "style": "bullets", "max_words": 60, "credential": "anthropic"}}`
    """
    limit = f" in at most {p.max_words} words" if p.max_words else ""
    form = "a short bullet list ('- ' per line)" if p.style == "bullets" else "one paragraph"
    system = f"Summarize the user's text as {form}{limit}. Answer with the summary only. {p.instructions}"
    return _text_output(await ask(p, [{"role": "user", "content": p.text}], system=system.strip()))


class GenerateParams(AiParams):
    prompt: str = Field(min_length=1, description="What to write.")
    system: str = Field("", description="System prompt (role, tone, rules).")


@step("ai.generate", params=GenerateParams, output="{text, stop_reason, usage}")
async def generate(p: GenerateParams) -> dict[str, Any]:
    """Generate text from a prompt.

    Example node: `{"id": "reply", "type": "ai.generate", "params": {"prompt": "Write a polite
    reply to: {{ inputs.complaint }}", "system": "You answer for ACME support.", "max_tokens": 400}}`
    """
    return _text_output(await ask(p, [{"role": "user", "content": p.prompt}], system=p.system))


class TranslateParams(AiParams):
    text: str = Field(min_length=1, description="The text to translate.")
    target_language: str = Field(min_length=2, description="Language to translate into, e.g. `German` or `de`.")
    source_language: str | None = Field(None, min_length=2, description="The text's language; empty: detected.")


@step("ai.translate", params=TranslateParams, output="{text, stop_reason, usage}")
async def translate(p: TranslateParams) -> dict[str, Any]:
    """Translate a text into another language.

    Example node: `{"id": "tr", "type": "ai.translate", "params": {"text": "{{ inputs.note }}",
    "target_language": "German"}}`
    """
    source = f" from {p.source_language}" if p.source_language else ""
    system = (
        f"Translate the user's text{source} into {p.target_language}. Keep names, numbers and "
        "formatting. Answer with the translation only."
    )
    return _text_output(await ask(p, [{"role": "user", "content": p.text}], system=system))


class ClassifyParams(AiParams):
    text: str = Field(min_length=1, description="The text to classify.")
    labels: list[str] = Field(min_length=2, description="The labels to choose from (two or more, distinct).")
    instructions: str = Field("", description="What the labels mean, how to decide.")

    @field_validator("labels")
    @classmethod
    def _distinct(cls, labels: list[str]) -> list[str]:
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be empty strings")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct, got {labels}")
        return labels


def choice_tool(name: str, field: str, options: list[str], what: str) -> dict[str, Any]:
    """A tool whose input is one of `options`, a confidence and a reason."""
    return {
        "name": name,
        "description": what,
        "input_schema": {
            "type": "object",
            "properties": {
                field: {"type": "string", "enum": options},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "reason": {"type": "string", "description": "One sentence: why."},
            },
            "required": [field, "confidence", "reason"],
        },
    }


def checked_choice(data: dict[str, Any], field: str, options: list[str], usage: dict[str, Any]) -> str:
    """The chosen option, or a clear error when the model answered outside the options."""
    value = data.get(field)
    if value not in options:
        raise StepError(
            f"the model answered {field} {value!r}, which is not one of {options}",
            kind="ai_output",
            retryable=False,
            details={"usage": usage},
        )
    return str(value)


def confidence(data: dict[str, Any]) -> float | None:
    value = data.get("confidence")
    return min(max(float(value), 0.0), 1.0) if isinstance(value, int | float) else None


@step("ai.classify", params=ClassifyParams, output="{label, confidence (0..1), reason, usage}")
async def classify(p: ClassifyParams) -> dict[str, Any]:
    """Put a text into one of the given labels, with a confidence and a reason.

    Example node: `{"id": "kind", "type": "ai.classify", "params": {"text": "{{ inputs.mail_body }}",
    "labels": ["invoice", "complaint", "other"]}}` then `{{ steps.kind.output.label }}`.
    """
    tool = choice_tool("classify", "label", p.labels, "Record the label that fits the text best.")
    system = f"Classify the user's text into exactly one label. {p.instructions}".strip()
    reply = await ask(p, [{"role": "user", "content": p.text}], system=system, tool=tool)
    data = tool_input(reply, "classify")
    label = checked_choice(data, "label", p.labels, reply.usage)
    return {"label": label, "confidence": confidence(data), "reason": str(data.get("reason", "")), "usage": reply.usage}
