"""`ai.extract` (fields by a JSON Schema, through tool use) and `ai.decide` (a router).

Extraction forces the model to call a tool whose `input_schema` is the flow's schema, then
validates the input with `jsonschema` (the API does not guarantee it fits). When it does not,
the errors go back ONCE as the tool's result (`is_error`), and the second answer must fit.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from agent.steps.ai._client import AiParams, add_usage, ask, tool_input
from agent.steps.ai._text_steps import checked_choice, choice_tool, confidence
from shared.errors import MissingDependency, StepError
from shared.steps import Route, step

__all__ = ["check_schema", "decide", "extract", "extract_from"]

TOOL = "record"
MAX_ERRORS = 10


def _jsonschema() -> Any:
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingDependency("jsonschema", extra="ai") from exc
    return jsonschema


def check_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema usable as a tool's input: valid, and of type object."""
    jsonschema = _jsonschema()

    if schema.get("type") != "object":
        raise ValueError('the schema must describe an object: {"type": "object", "properties": {...}}')
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
    return schema


def _problems(schema: dict[str, Any], data: Any) -> list[str]:
    jsonschema = _jsonschema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors[:MAX_ERRORS]]


async def extract_from(
    p: AiParams, content: list[dict[str, Any]], schema: dict[str, Any], system: str
) -> dict[str, Any]:
    """Ask for data fitting `schema` about `content`; one retry with the validation errors.

    Returns:
        `{"data": ..., "attempts": 1|2, "usage": ...}`.

    Raises:
        StepError: kind `ai_output` when the second answer does not fit either.
    """
    tool = {"name": TOOL, "description": "Record the data found, exactly in this schema.", "input_schema": schema}
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    reply = await ask(p, messages, system=system, tool=tool)
    data = tool_input(reply, TOOL)
    problems = _problems(schema, data)
    if not problems:
        return {"data": data, "attempts": 1, "usage": reply.usage}
    call = next(b for b in reply.message.content if b.type == "tool_use")
    feedback = (
        "The data does not fit the schema:\n"
        + "\n".join(f"- {x}" for x in problems)
        + "\nCall the tool again with corrected data."
    )
    messages += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": TOOL, "input": data}]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "is_error": True, "content": feedback}],
        },
    ]
    second = await ask(p, messages, system=system, tool=tool)
    usage = add_usage(reply.usage, second.usage)
    data = tool_input(second, TOOL)
    problems = _problems(schema, data)
    if problems:
        raise StepError(
            f"the model's data does not fit the schema after one retry: {'; '.join(problems)}",
            kind="ai_output",
            retryable=False,
            details={"problems": problems, "usage": usage},
        )
    return {"data": data, "attempts": 2, "usage": usage}


class ExtractParams(AiParams):
    text: str = Field(min_length=1, description="The text to extract from (an e-mail, an OCR result, a page).")
    output_schema: dict[str, Any] = Field(
        description=(
            'JSON Schema of the fields, e.g. {"type": "object", "properties": '
            '{"total": {"type": "number"}}, "required": ["total"]}.'
        ),
    )
    instructions: str = Field("", description="Extra instructions (formats, what to do with missing fields).")

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        return check_schema(schema)


@step("ai.extract", params=ExtractParams, output="{data (fits the schema), attempts, usage}")
async def extract(p: ExtractParams) -> dict[str, Any]:
    """Extract fields from a text as data fitting a JSON Schema (validated; one corrective retry).

    Example node: `{"id": "inv", "type": "ai.extract", "params": {"text": "{{ inputs.mail_body }}",
    "output_schema": {"type": "object", "properties": {"number": {"type": "string"}, "total":
    {"type": "number"}}, "required": ["number", "total"]}}}` then `{{ steps.inv.output.data.total }}`.
    """
    system = f"Extract the requested fields from the user's text. Do not invent values. {p.instructions}".strip()
    return await extract_from(p, [{"type": "text", "text": p.text}], p.output_schema, system)


class DecideParams(AiParams):
    text: str = Field(min_length=1, description="The situation to decide on (a question with its facts).")
    options: list[str] = Field(
        min_length=2, description="The choices; each is an output port of the node (draw an edge from each)."
    )
    instructions: str = Field("", description="The rules for choosing (what each option means).")

    @field_validator("options")
    @classmethod
    def _ports(cls, options: list[str]) -> list[str]:
        if len(set(options)) != len(options) or any(not o.strip() for o in options):
            raise ValueError(f"options must be distinct, non-empty port names, got {options}")
        if "error" in options:
            raise ValueError("'error' is every node's failure port; name the option differently")
        return options


@step(
    "ai.decide",
    params=DecideParams,
    kind="router",
    ports=(),
    ports_param="options",
    output="{choice, confidence, reason, usage}; the port named by `choice` fires",
)
async def decide(p: DecideParams) -> Route:
    """Let the model pick one of the node's output ports, and say why.

    Example node: `{"id": "route", "type": "ai.decide", "params": {"text": "{{ inputs.mail_body }}",
    "options": ["refund", "escalate", "ignore"], "instructions": "Refund under 50 EUR."}}` with
    edges `{"from": "route", "port": "refund", "to": "pay"}`, ...
    """
    tool = choice_tool("decide", "choice", p.options, "Record the option to take.")
    system = f"Decide which option to take for the user's situation. {p.instructions}".strip()
    reply = await ask(p, [{"role": "user", "content": p.text}], system=system, tool=tool)
    data = tool_input(reply, "decide")
    choice = checked_choice(data, "choice", p.options, reply.usage)
    output = {
        "choice": choice,
        "confidence": confidence(data),
        "reason": str(data.get("reason", "")),
        "usage": reply.usage,
    }
    return Route(port=choice, output=output)
