"""Ask, check, and ask again with the problems fed back: the loop both AI features share."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from orchestrator.errors import Invalid
from orchestrator.services.ai._model import ModelClient, Usage

T = TypeVar("T")

Check = Callable[[Any], tuple[T | None, list[dict[str, Any]]]]
"""Given the JSON an answer held: (the result, []) when it is good, else (None, its problems)."""

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
MAX_PROBLEMS_FED_BACK = 30


@dataclass
class Outcome(Generic[T]):
    """What a loop produced: the result (None when no answer was valid), the problems of the last
    answer, how many answers were asked for, and the tokens they used."""

    result: T | None
    problems: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)

    def valid(self) -> T:
        """The result.

        Raises:
            Invalid: (code `ai_invalid_answer`) no answer was valid; `details` holds the problems
                of the last one, the attempts and the usage.
        """
        if self.result is None:
            raise Invalid(
                f"the model gave no valid answer in {self.attempts} attempt(s)",
                code="ai_invalid_answer",
                details={
                    "problems": self.problems,
                    "attempts": self.attempts,
                    "usage": {"input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens},
                },
            )
        return self.result


def json_of(text: str) -> Any:
    """The JSON value an answer holds: the whole text, a fenced ```json block, or the outermost
    {...}.

    Raises:
        ValueError: none of these parses.
    """
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise ValueError("the answer holds no JSON object")


def _feedback(problems: list[dict[str, Any]]) -> str:
    shown = problems[:MAX_PROBLEMS_FED_BACK]
    lines = [f"- {p.get('path', '$')}: {p.get('message', '')}" for p in shown]
    if len(problems) > len(shown):
        lines.append(f"- ... and {len(problems) - len(shown)} more")
    return (
        "Your answer is not valid. Problems (JSON path: message):\n"
        + "\n".join(lines)
        + "\nAnswer again with the corrected JSON only."
    )


async def ask_until_valid(
    model: ModelClient,
    system: str,
    prompt: str,
    check: Check[T],
    *,
    max_attempts: int,
    outcome: Outcome[T] | None = None,
) -> Outcome[T]:
    """Ask `model`, check the JSON of its answer, and on problems ask again in the same
    conversation with the problems fed back, at most `max_attempts` answers in all.

    `outcome` (a fresh one by default) is filled as answers arrive, so a caller that passes its own
    still knows the attempts and tokens spent when a later call to the model raises.
    """
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    outcome = Outcome(None) if outcome is None else outcome
    for _ in range(max_attempts):
        answer = await model.ask(system, messages)
        outcome.attempts += 1
        outcome.usage.add(answer.usage)
        try:
            result, problems = check(json_of(answer.text))
        except ValueError as exc:
            result, problems = None, [{"path": "$", "message": str(exc), "code": "json"}]
        if result is not None:
            outcome.result, outcome.problems = result, []
            return outcome
        outcome.problems = problems
        messages += [{"role": "assistant", "content": answer.text}, {"role": "user", "content": _feedback(problems)}]
    return outcome
