"""Params shared by the steps that find something on screen (the studio builds forms from them)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agent.steps.desktop._locators import LocatorSyntaxError, parse_target, shorten
from shared.steps import ASSET_TARGETS

__all__ = ["FindParams", "Target", "check_target"]


def check_target(text: str) -> str:
    """Parse the target so a syntax error shows in `rpa validate`, with its column."""
    try:
        parse_target(text)
    except LocatorSyntaxError as exc:
        raise ValueError(f"invalid target '{shorten(text)}': {exc}") from None
    return text


Target = Annotated[
    str,
    AfterValidator(check_target),
    Field(
        min_length=1,
        json_schema_extra=ASSET_TARGETS,
        description=(
            'Where to act: image:button.png, ocr:"Submit", point:100,200, region:l,t,r,b, window:"Title*", '
            'chained with >> (image:logo.png >> offset:600,0, ocr:"Total" >> right-of). See docs/steps/desktop.md.'
        ),
    ),
]


class FindParams(BaseModel):
    """How a target is looked for."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    window: str | None = Field(
        None, description="A window title pattern (glob, e.g. 'Invoice*'): the target is looked for inside it."
    )
    confidence: float = Field(0.9, ge=0.0, le=1.0, description="image: the lowest match score accepted (0..1).")
    grayscale: bool = Field(True, description="image: match on luminance only (faster; ignores colour-only changes).")
    scales: list[Annotated[float, Field(gt=0.05, le=10)]] = Field(
        default_factory=lambda: [1.0],
        min_length=1,
        description="image: the scales of the image to try, e.g. [0.8, 0.9, 1.0, 1.1, 1.25] (a scale pyramid).",
    )
    index: int = Field(
        0, ge=0, description="Which match when several are found: 0 = the best (image) or the first read (ocr)."
    )
    timeout_s: float = Field(10.0, ge=0, description="Seconds to wait for the target to appear.")
    ocr_lang: str = Field("eng", description='ocr: the tesseract language(s), e.g. "eng" or "eng+deu".')
    ocr_exact: bool = Field(False, description="ocr: the words must equal the text (else: contain it, any case).")
