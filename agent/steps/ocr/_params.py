"""Params models of the `ocr.*` steps (the studio builds its forms from these descriptions).

What can be checked before a run is checked here, so `rpa validate` reports it with its JSON
path: a page segmentation mode tesseract does not have, a language code that is not one, a
region with a negative size, a page range that does not parse. Whether a language is installed
depends on the agent, so that is checked when the step runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.steps.ocr._engine import PSM_MODES
from agent.steps.ocr._sources import check_page_spec
from shared.steps import CREDENTIAL_NAME

_PSM_TEXT = ", ".join(f"{k} = {v}" for k, v in PSM_MODES.items() if k != 0)
_PSM_SHORT = (
    "Page segmentation mode (1, 3-13): 3 = automatic, 4 = one column, 6 = one block, 7 = one line, "
    "8 = one word, 11 = sparse text (screens), 13 = raw line."
)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Region(_Params):
    """A rectangle in pixels."""

    left: int = Field(ge=0, description="Pixels from the image's left edge.")
    top: int = Field(ge=0, description="Pixels from the image's top edge.")
    width: int = Field(gt=0, description="Width in pixels.")
    height: int = Field(gt=0, description="Height in pixels.")

    def box(self) -> tuple[int, int, int, int]:
        """`(left, top, width, height)`."""
        return self.left, self.top, self.width, self.height


class OcrOptions(_Params):
    """How tesseract reads: language, layout, resolution, preparation."""

    lang: str = Field(
        default="eng",
        pattern=r"^[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z][A-Za-z0-9_]*)*$",
        description="Tesseract language code(s) joined by '+', e.g. 'eng' or 'eng+deu'. "
        "Each needs its language pack on the agent (tesseract-ocr-<lang>).",
    )
    psm: int = Field(default=3, description=_PSM_SHORT)
    dpi: int | None = Field(
        default=None,
        ge=50,
        le=2400,
        description="The image's resolution in dots per inch; read from the file when empty.",
    )
    upscale: Literal["auto", "off"] | float = Field(
        default="auto",
        description="'auto' enlarges small text 2-3x before reading (boxes stay in the image's pixels); "
        "'off', or a fixed factor from 1 to 4.",
    )
    deskew: bool = Field(default=True, description="Straighten text tilted by up to 5 degrees before reading.")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds allowed per image or page before the step fails (retryable)."
    )

    @field_validator("psm")
    @classmethod
    def _known_psm(cls, value: int) -> int:
        if value not in PSM_MODES or value == 0:
            raise ValueError(f"unknown page segmentation mode {value}; use one of {_PSM_TEXT}")
        return value

    @field_validator("upscale")
    @classmethod
    def _factor(cls, value: str | float) -> str | float:
        if isinstance(value, float | int) and not 1 <= value <= 4:
            raise ValueError("an upscaling factor must be between 1 and 4")
        return value

    def upscale_factor(self) -> float | None:
        """None for automatic, else the fixed factor."""
        if self.upscale == "auto":
            return None
        return 1.0 if self.upscale == "off" else float(self.upscale)


ImageSource = str | dict[str, Any]
_IMAGE_DESCRIPTION = (
    "The image file (PNG, JPEG, TIFF, BMP, WebP...), or an artifact of this execution "
    "as a screenshot step returns it ({'artifact': ...})."
)


def _check_artifact(value: ImageSource) -> ImageSource:
    if isinstance(value, dict) and not isinstance(value.get("artifact"), str):
        raise ValueError("an artifact reference needs an 'artifact' key (its path in the execution's artifacts)")
    if isinstance(value, str) and not value.strip():
        raise ValueError("the image path is empty")
    return value


class _ImageParams(_Params):
    image: ImageSource = Field(description=_IMAGE_DESCRIPTION)
    region: Region | None = Field(default=None, description="Read only this part of the image.")
    options: OcrOptions = Field(default_factory=OcrOptions, description="Language, layout and preparation.")

    _image = field_validator("image")(_check_artifact)


class ReadTextParams(_ImageParams):
    confidence: bool = Field(
        default=False, description="Also return the mean word confidence (0-100); reads words too, ~5 % slower."
    )


class ReadWordsParams(_ImageParams):
    min_confidence: float = Field(
        default=0, ge=0, le=100, description="Leave out words read with a lower confidence (0-100)."
    )


class FindOptions(OcrOptions):
    """`OcrOptions` with defaults for screens: sparse text, no deskew."""

    psm: int = Field(default=11, description=_PSM_SHORT)
    deskew: bool = Field(default=False, description="Straighten text tilted by up to 5 degrees before reading.")


class FindTextParams(_Params):
    image: ImageSource = Field(description=_IMAGE_DESCRIPTION)
    text: str = Field(min_length=1, description="The word or phrase; a phrase matches consecutive words on a line.")
    exact: bool = Field(default=False, description="Match case and punctuation exactly.")
    min_confidence: float = Field(default=60, ge=0, le=100, description="Lowest word confidence (0-100) accepted.")
    required: bool = Field(default=False, description="Fail (kind 'not_found', retryable) when the text is not there.")
    region: Region | None = Field(default=None, description="Search only this part; boxes stay in image pixels.")
    options: FindOptions = Field(
        default_factory=FindOptions,
        description="Language, layout and preparation (sparse-text layout, no deskew by default: suits screens).",
    )

    _image = field_validator("image")(_check_artifact)


class ReadPdfParams(_Params):
    path: str = Field(min_length=1, description="The PDF file (scanned or not: every page is rendered and read).")
    pages: str | None = Field(
        default=None, description="Pages to read, 1-based: '1-3,5,8-' ('8-' = 8 to the end); all when empty."
    )
    dpi: int = Field(default=300, ge=72, le=600, description="Rendering resolution; 300 suits OCR.")
    workers: int | None = Field(
        default=None, ge=1, le=64, description="Pages read at once (one tesseract process each); the cores when empty."
    )
    password_credential: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default=None,
        description="Name of the credential holding the PDF's password, when it is encrypted.",
    )
    include_words: bool = Field(
        default=False, description="Add each page's words with boxes and its mean confidence (~5 % slower)."
    )
    options: OcrOptions = Field(default_factory=OcrOptions, description="Language, layout and preparation.")

    _pages = field_validator("pages")(check_page_spec)
