"""Self-healing: when every selector of a target fails, find the element from its fingerprint.

Never silent. The page's visible elements of the same family (same tag or role, and the tags a
redesign swaps between: input/textarea, button/a/input) are scored against the recorded
fingerprint with `similarity` (`_similo.py`). One is accepted only when its score reaches
`MIN_SCORE` and leads the runner-up by `MIN_LEAD`; the step then goes on with it, a warning is
logged, and a `healed` note is journaled (old and new selector, score, runner-up, a screenshot
artifact) for the studio to offer as a fix. Otherwise the `element_not_found` error lists the
closest candidates with their scores.

Healing is allowed when three switches are on: the step's (`locate(heal=...)`), the target's
(`"heal": false` in a `TargetSpec` turns it off) and the execution's (`browser.healing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent.steps.browser._fingerprint import FINGERPRINT_JS, Fingerprint
from agent.steps.browser._similo import similarity
from shared.steps import context, step

if TYPE_CHECKING:
    from agent.steps.browser._targets import Located, TargetSpec

MIN_SCORE = 0.70
"""The least normalised similarity a healed element needs: most of the stable attributes
(tag, name, texts, neighbours) must still agree."""
MIN_LEAD = 0.12
"""How far ahead of the runner-up it must be: two near-equal candidates mean the page has
changed too much to guess, and guessing wrong is worse than failing."""
MAX_CANDIDATES = 400
"""Visible elements scored at most (in page order), to bound the work on a huge page."""
CLOSEST = 3
"""How many of the best candidates an error or a note lists."""

# The fingerprints of the first `limit` visible elements, each with its index among all matches
# (what `locator.nth()` takes); invisible ones are skipped before the costly reads.
_CANDIDATES_JS = f"""(els, limit) => {{
  const fingerprint = {FINGERPRINT_JS.strip()};
  const out = [];
  for (let i = 0; i < els.length && out.length < limit; i++) {{
    const r = els[i].getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && getComputedStyle(els[i]).visibility !== 'hidden') {{
      out.push(Object.assign(fingerprint(els[i]), {{index: i}}));
    }}
  }}
  return out;
}}"""

_FAMILIES = {
    "input": ("textarea",),
    "textarea": ("input",),
    "button": ("a", "input"),
    "a": ("button",),
    "select": ("input",),
}


@dataclass
class HealOutcome:
    """The element healing accepted (if any) and the closest candidates with their scores."""

    located: Located | None = None
    closest: list[dict[str, Any]] = field(default_factory=list)


_ROLE_TAGS = {
    "button": ("button", "input", "a"),
    "link": ("a",),
    "textbox": ("input", "textarea"),
    "checkbox": ("input",),
    "radio": ("input",),
    "combobox": ("select", "input"),
    "img": ("img",),
    "heading": ("h1", "h2", "h3", "h4", "h5", "h6"),
}


def family_selector(fingerprint: Fingerprint) -> str:
    """The CSS selecting the candidates of the same family as the recorded element."""
    if fingerprint.tag:
        tags = [fingerprint.tag, *_FAMILIES.get(fingerprint.tag, ())]
    else:
        tags = list(_ROLE_TAGS.get(fingerprint.role, ("*",)))
    parts = list(dict.fromkeys(tags))
    if fingerprint.role and "*" not in parts:
        parts.append(f'[role="{fingerprint.role}"]')
    return ", ".join(parts)


def _summary(raw: dict[str, Any]) -> str:
    text = raw.get("accessible_name") or raw.get("text") or raw.get("placeholder") or ""
    head = (
        raw["tag"] + (f"#{raw['id']}" if raw.get("id") else "") + (f"[name={raw['name']}]" if raw.get("name") else "")
    )
    return f'{head} "{text[:40]}"' if text else head


def rank(fingerprint: Fingerprint, candidates: list[dict[str, Any]]) -> list[tuple[float, int]]:
    """(score, index) of every visible candidate, best first."""
    scored = [(round(similarity(fingerprint, raw), 3), i) for i, raw in enumerate(candidates) if raw.get("visible")]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def verdict(ranked: list[tuple[float, int]]) -> tuple[int | None, str]:
    """The index to accept (or None) and why, from `rank`'s output."""
    if not ranked:
        return None, "no candidate of the same kind on the page"
    best, index = ranked[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
    if best < MIN_SCORE:
        return None, f"the best candidate scores {best:.2f}, below {MIN_SCORE}"
    if best - runner_up < MIN_LEAD:
        return None, f"the best two candidates score {best:.2f} and {runner_up:.2f}: too close to choose"
    return index, f"score {best:.2f}, runner-up {runner_up:.2f}"


async def heal_target(
    scope: Any,
    spec: TargetSpec,
    fingerprint: Fingerprint,
    *,
    accept: bool,
    declined: str = "self-healing is turned off",
) -> HealOutcome:
    """Score the page's candidates against `fingerprint` and accept a clear winner.

    Args:
        scope: the page or frame searched.
        spec: the target whose selectors all failed.
        fingerprint: what the element looked like when recorded.
        accept: False when healing is turned off: only the closest candidates are reported.
        declined: what the report says when `accept` is False.
    """
    from agent.steps.browser._describe import frame_path, selector_of
    from agent.steps.browser._targets import Located, current_context

    # A target recorded inside an iframe names it first: its candidates live in that frame.
    root = frame_path(spec.selector)
    family = scope.locator(root + family_selector(fingerprint))
    candidates: list[dict[str, Any]] = await family.evaluate_all(_CANDIDATES_JS, MAX_CANDIDATES)
    ranked = rank(fingerprint, candidates)
    closest = [{"score": score, "element": _summary(candidates[i])} for score, i in ranked[:CLOSEST]]
    index, reason = verdict(ranked)
    if index is None or not accept:
        why = reason if accept else declined
        return HealOutcome(None, [*closest, {"healing": why}] if closest else [{"healing": why}])
    chosen = family.nth(candidates[index]["index"])
    new = selector_of(await chosen.normalize())
    if await scope.locator(new).count() != 1:  # Playwright's pick is unique; a page mid-change may not be
        new = f"{root}xpath={candidates[index]['xpath']}"
    located = Located(scope.locator(new), new, healed=True)
    score, runner_up = ranked[0][0], (ranked[1][0] if len(ranked) > 1 else 0.0)
    ctx = current_context()
    if ctx is not None:
        shot = await chosen.screenshot(type="png", scale="css", animations="disabled", timeout=5000)
        artifact = ctx.save_artifact("healed.png", shot, content_type="image/png")["artifact"]
        ctx.note(
            "healed",
            {
                "old": spec.selector,
                "fallbacks": list(spec.fallbacks),
                "new": new,
                "score": score,
                "runner_up": runner_up,
                "element": _summary(candidates[index]),
                "screenshot": artifact,
            },
        )
        ctx.log(
            f"target healed: {spec.selector!r} and its fallbacks found nothing; using {new!r} "
            f"({reason}); accept the fix in the studio or update the target",
            "warning",
        )
    return HealOutcome(located, closest)


class HealingParams(BaseModel):
    """Params of `browser.healing`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="False: no target is healed in the rest of this execution; true: allowed again.")


@step(
    "browser.healing",
    params=HealingParams,
    output="Whether self-healing is now allowed.",
    capability="browser",
    effects=False,
)
def set_healing(params: HealingParams) -> bool:
    """Turn self-healing of targets off (or on again) for the rest of the execution.

    Healing is on by default and never silent (each healed target journals a `healed` note).
    A flow that must fail rather than act on a guessed element turns it off at its start; one
    target can also opt out with `"heal": false` in its spec.

    Example node:
        {"id": "strict", "type": "browser.healing", "params": {"enabled": false}}
    """
    from agent.steps.browser._targets import HEALING_RESOURCE

    resources = context().resources
    resources.pop(HEALING_RESOURCE)
    resources.put(HEALING_RESOURCE, params.enabled)
    return params.enabled
