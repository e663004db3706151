"""Images in: `ai.vision` (describe, or extract by a schema) and `ai.locate` (a box on screen).

An image is a file (a path, or the name of an artifact of this execution such as a
`desktop.screenshot`) or one page of a PDF rendered with pypdfium2. Images whose long side is
over `MAX_SIDE` pixels are scaled down here, as the API would do anyway, and `ai.locate` scales
the box back, so the box is in the original image's pixels (= screen pixels for a full-screen
screenshot) and plugs into the desktop locator syntax as `region:left,top,right,bottom`.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from agent.steps.ai._client import AiParams, ask, tool_input
from agent.steps.ai._extract import check_schema, extract_from
from shared.errors import MissingDependency, StepError
from shared.steps import context, step

__all__ = ["locate", "vision"]

MAX_SIDE = 1568
"""The long side, in pixels, past which the API scales images down (Anthropic's vision docs)."""


class ImageParams(AiParams):
    image: str | None = Field(
        None,
        min_length=1,
        description="Image file, or an artifact of this execution (`artifact` of a screenshot step's output).",
    )
    pdf: str | None = Field(None, min_length=1, description="PDF file whose `page` is looked at (instead of `image`).")
    page: int = Field(1, ge=1, description="PDF page number, from 1.")

    @model_validator(mode="after")
    def _one_source(self) -> ImageParams:
        if (self.image is None) == (self.pdf is None):
            raise ValueError("give exactly one of `image` and `pdf`")
        return self


@dataclass(frozen=True)
class Picture:
    """The image as sent: base64 PNG, its original size, and the factor back to it."""

    data: str
    width: int
    height: int
    scale: float

    def block(self) -> dict[str, Any]:
        return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": self.data}}


def _find(name: str) -> Path:
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        # An artifact of this execution, named as `save_artifact` returns it (`shot/screen.png`).
        ctx = context()
        artifact = ctx.artifacts_root / ctx.execution_id / name
        if artifact.is_file():
            return artifact
    if not path.is_file():
        raise StepError(f"no such file: {name}", kind="validation", retryable=False)
    return path


def _open(p: ImageParams) -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingDependency("Pillow", extra="ai") from exc
    if p.image is not None:
        path = _find(p.image)
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except OSError as exc:
            raise StepError(f"cannot read the image {path}: {exc}", kind="validation", retryable=False) from exc
    return _render_pdf_page(_find(str(p.pdf)), p.page)


def _render_pdf_page(path: Path, page: int) -> Any:
    try:
        import pypdfium2
    except ImportError as exc:
        raise MissingDependency("pypdfium2", extra="ai") from exc
    try:
        doc = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        raise StepError(f"cannot open the PDF {path}: {exc}", kind="validation", retryable=False) from exc
    try:
        if page > len(doc):
            raise StepError(f"{path} has {len(doc)} pages, not {page}", kind="validation", retryable=False)
        return doc[page - 1].render(scale=150 / 72).to_pil().convert("RGB")  # 150 dpi
    finally:
        doc.close()


def load_picture(p: ImageParams) -> Picture:
    """The image of `p` as PNG, scaled so its long side is at most `MAX_SIDE`."""
    img = _open(p)
    width, height = img.size
    scale = max(width, height) / MAX_SIDE if max(width, height) > MAX_SIDE else 1.0
    if scale > 1.0:
        img = img.resize((round(width / scale), round(height / scale)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return Picture(base64.b64encode(buf.getvalue()).decode(), width, height, scale)


class VisionParams(ImageParams):
    prompt: str = Field("Describe this image.", min_length=1, description="What to do with the image.")
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema: extract data fitting it (as `ai.extract`) instead of text."
    )

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if schema is None else check_schema(schema)


@step(
    "ai.vision",
    params=VisionParams,
    output="{text}, or {data, attempts} with `output_schema`; and {image: {width, height}, usage}",
)
async def vision(p: VisionParams) -> dict[str, Any]:
    """Describe an image or a PDF page, or extract data from it by a JSON Schema.

    Example node: `{"id": "read", "type": "ai.vision", "params": {"pdf": "invoice.pdf", "page": 1,
    "output_schema": {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}}}`
    """
    picture = load_picture(p)
    content = [picture.block(), {"type": "text", "text": p.prompt}]
    size = {"width": picture.width, "height": picture.height}
    if p.output_schema is not None:
        system = "Extract the requested fields from the image. Do not invent values."
        return {**await extract_from(p, content, p.output_schema, system), "image": size}
    reply = await ask(p, [{"role": "user", "content": content}])
    return {"text": reply.text, "stop_reason": reply.stop_reason, "image": size, "usage": reply.usage}


class LocateParams(ImageParams):
    description: str = Field(min_length=1, description='The UI element to find, e.g. "the blue Save button".')
    required: bool = Field(True, description="Fail (kind element_not_found) when it is not there; else found=false.")
    origin_left: int = Field(
        0, ge=0, description="Screen x of the image's left edge (a region screenshot's `left`), added to the box."
    )
    origin_top: int = Field(
        0, ge=0, description="Screen y of the image's top edge (a region screenshot's `top`), added to the box."
    )


_BOX_TOOL = {
    "name": "box",
    "description": "Record the bounding box of the element in image pixels, or found=false.",
    "input_schema": {
        "type": "object",
        "properties": {
            "found": {"type": "boolean"},
            "left": {"type": "integer"},
            "top": {"type": "integer"},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
        },
        "required": ["found"],
    },
}


def _box(data: dict[str, Any], picture: Picture, usage: dict[str, Any]) -> dict[str, int]:
    try:
        left, top = round(data["left"] * picture.scale), round(data["top"] * picture.scale)
        right = round((data["left"] + data["width"]) * picture.scale)
        bottom = round((data["top"] + data["height"]) * picture.scale)
    except (KeyError, TypeError) as exc:
        raise StepError(
            f"the model's box lacks {exc}: {data}", kind="ai_output", retryable=False, details={"usage": usage}
        ) from None
    left, top = max(0, min(left, picture.width - 1)), max(0, min(top, picture.height - 1))
    right, bottom = max(left + 1, min(right, picture.width)), max(top + 1, min(bottom, picture.height))
    return {"left": left, "top": top, "width": right - left, "height": bottom - top}


@step(
    "ai.locate",
    params=LocateParams,
    output="{found, box: {left, top, width, height}, target: 'region:l,t,r,b', center, usage}",
)
async def locate(p: LocateParams) -> dict[str, Any]:
    """Find a described UI element in a screenshot: its box, and a desktop target for it.

    `target` is `region:left,top,right,bottom` in the desktop locator syntax, so a next node can
    click it: `{"type": "desktop.click", "params": {"target": "{{ steps.find.output.target }}"}}`.
    Example node: `{"id": "find", "type": "ai.locate", "params": {"image": "screen.png",
    "description": "the Save button"}}`
    """
    picture = load_picture(p)
    sent = f"{round(picture.width / picture.scale)}x{round(picture.height / picture.scale)}"
    text = f"Find this element: {p.description}. The image is {sent} pixels."
    content = [picture.block(), {"type": "text", "text": text}]
    reply = await ask(p, [{"role": "user", "content": content}], tool=_BOX_TOOL)
    data = tool_input(reply, "box")
    if not data.get("found"):
        if p.required:
            raise StepError(
                f"the model did not find {p.description!r} in the image",
                kind="element_not_found",
                retryable=False,
                details={"usage": reply.usage},
            )
        return {"found": False, "box": None, "target": None, "center": None, "usage": reply.usage}
    box = _box(data, picture, reply.usage)
    box["left"] += p.origin_left
    box["top"] += p.origin_top
    right, bottom = box["left"] + box["width"], box["top"] + box["height"]
    return {
        "found": True,
        "box": box,
        "target": f"region:{box['left']},{box['top']},{right},{bottom}",
        "center": {"x": box["left"] + box["width"] // 2, "y": box["top"] + box["height"] // 2},
        "usage": reply.usage,
    }
