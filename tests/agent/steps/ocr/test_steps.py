"""The `ocr.*` steps on image files and artifacts: words, search, regions, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from agent.steps.ocr import OCR_STEPS, find_text_step, languages, read_text, read_words
from shared.errors import MissingDependency, StepError
from shared.steps import StepRegistry, context, step
from tests.agent.steps.ocr.rendering import draw_words

pytestmark = pytest.mark.ocr


class _ShotParams(BaseModel):
    path: str


@step("test.save_screenshot", params=_ShotParams)
def _save_screenshot(params: _ShotParams) -> dict[str, object]:
    """Keeps an image as an artifact, as a screenshot step does."""
    return context().save_artifact("screen.png", Path(params.path))


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    drawn = draw_words(
        (700, 260),
        [
            ((30, 30), "Customer: ACME Ltd", 18),
            ((30, 110), "Invoice number INV-7731", 14),
            ((480, 200), "Submit", 13),
            ((360, 30), "Due 2026-12-31", 18),
        ],
    )
    path = tmp_path_factory.mktemp("form") / "form.png"
    drawn.image.save(path)
    return path, drawn.boxes


async def test_read_words_is_a_table_in_image_pixels(env, form):
    path, boxes = form
    rows = await env.run(read_words, {"image": str(path), "min_confidence": 50})
    assert list(rows[0]) == ["text", "left", "top", "width", "height", "confidence", "block", "paragraph", "line"]
    by_text = {r["text"]: r for r in rows}
    submit = by_text["Submit"]
    left, top, right, bottom = boxes["Submit"]
    assert submit["left"] <= left + 2
    assert submit["left"] + submit["width"] >= right - 2
    assert submit["top"] <= top + 2
    assert submit["top"] + submit["height"] >= bottom - 2
    assert all(r["confidence"] >= 50 for r in rows)
    assert {"INV-7731", "ACME", "2026-12-31"} <= set(by_text)


async def test_region_reads_only_its_part_and_keeps_image_coordinates(env, form):
    path, boxes = form
    region = {"left": 400, "top": 150, "width": 300, "height": 110}
    rows = await env.run(read_words, {"image": str(path), "region": region})
    assert [r["text"] for r in rows] == ["Submit"]
    assert abs(rows[0]["left"] - boxes["Submit"][0]) <= 2
    text = await env.run(read_text, {"image": str(path), "region": region})
    assert text == {"text": "Submit", "angle": 0, "scale": 2}  # 13 px text: glyphs ~9 px high
    scored = await env.run(read_text, {"image": str(path), "region": region, "confidence": True})
    assert scored["text"] == "Submit"
    assert scored["confidence"] > 80


async def test_find_text_step_gives_click_points(env, form):
    path, boxes = form
    (match,) = await env.run(find_text_step, {"image": str(path), "text": "invoice number"})
    left, top, _, bottom = boxes["Invoice number INV-7731"]
    assert match["text"] == "Invoice number"
    assert abs(match["left"] - left) <= 2
    assert top <= match["center_y"] <= bottom
    assert list(match) == ["text", "left", "top", "width", "height", "center_x", "center_y", "confidence"]
    assert await env.run(find_text_step, {"image": str(path), "text": "Cancel"}) == []


async def test_find_text_required_fails_retryably_with_what_was_seen(env, form):
    path, _ = form
    with pytest.raises(StepError) as caught:
        await env.run(find_text_step, {"image": str(path), "text": "Cancel", "required": True})
    assert caught.value.kind == "not_found"
    assert caught.value.retryable is True
    assert "Submit" in caught.value.details["words_seen"]
    assert str(path) in caught.value.message


async def test_an_artifact_of_the_execution_is_a_source(env, form):
    path, _ = form
    saved = await env.run(_save_screenshot, {"path": str(path)})
    result = await env.run(read_text, {"image": saved})
    assert "INV-7731" in result["text"]


async def test_languages_lists_installed_packs(env):
    installed = await env.run(languages)
    assert "eng" in installed
    assert "osd" not in installed


async def test_a_missing_language_names_its_package_and_the_installed_ones(env, form):
    path, _ = form
    with pytest.raises(StepError) as caught:
        await env.run(read_text, {"image": str(path), "options": {"lang": "eng+zzz"}})
    assert caught.value.kind == "dependency"
    assert not caught.value.retryable
    assert "tesseract-ocr-zzz" in caught.value.message
    assert "installed: eng" in caught.value.message


async def test_a_bad_image_file_is_named(env, tmp_path):
    broken = tmp_path / "scan.png"
    broken.write_bytes(b"not a picture at all")
    with pytest.raises(StepError) as caught:
        await env.run(read_text, {"image": str(broken)})
    assert str(broken) in caught.value.message
    assert caught.value.kind == "bad_input"
    assert not caught.value.retryable
    with pytest.raises(StepError, match="does not exist"):
        await env.run(read_text, {"image": str(tmp_path / "absent.png")})
    with pytest.raises(StepError, match=r"is a PDF: read it with ocr\.read_pdf"):
        await env.run(read_text, {"image": str(tmp_path / "a.pdf")})


async def test_a_region_outside_the_image_says_its_size(env, form):
    path, _ = form
    with pytest.raises(StepError, match=r"outside .*form\.png \(700x260 px\)"):
        await env.run(read_text, {"image": str(path), "region": {"left": 600, "top": 0, "width": 200, "height": 10}})


async def test_missing_tesseract_is_a_missing_dependency(env, form, monkeypatch):
    import pytesseract

    from agent.steps.ocr import _engine

    # The program pytesseract is configured with, pointed at a name that is on no PATH.
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract-not-installed")
    _engine._languages.cache_clear()
    with pytest.raises(MissingDependency, match="tesseract-ocr"):
        await env.run(read_text, {"image": str(form[0])})


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"image": "a.png", "options": {"psm": 2}}, "options.psm"),
        ({"image": "a.png", "options": {"psm": 14}}, "options.psm"),
        ({"image": "a.png", "options": {"lang": "eng deu"}}, "options.lang"),
        ({"image": "a.png", "options": {"upscale": 9}}, "options.upscale"),
        ({"image": "a.png", "region": {"left": -1, "top": 0, "width": 5, "height": 5}}, "region.left"),
        ({"image": "a.png", "region": {"left": 0, "top": 0, "width": 0, "height": 5}}, "region.width"),
        ({"image": {"file": "x.png"}}, "image"),
        ({"image": "a.png", "text": "OK", "options": {"psm": 2}}, "options.psm"),
        ({"image": "a.png", "text": ""}, "text"),
    ],
)
def test_params_checked_before_a_run(params, where):
    step_fn = find_text_step if "text" in params else read_text
    with pytest.raises(ValidationError) as caught:
        step_fn.__rpa_step__.params.model_validate(params)
    assert where in {".".join(str(p) for p in e["loc"] if not isinstance(p, int)) for e in caught.value.errors()}


def test_steps_are_in_the_catalogue_with_the_ocr_capability():
    registry = StepRegistry.default()
    for fn in OCR_STEPS:
        definition = registry.get(fn.__rpa_step__.name)
        assert definition.capability == "ocr"
        assert definition.params.model_json_schema()["additionalProperties"] is False


async def test_sixteen_bit_and_transparent_images_are_read(env, tmp_path):
    import numpy as np
    from PIL import Image

    drawn = draw_words((420, 80), [((20, 20), "Scanner 16 bit", 24)])
    grey = np.asarray(drawn.image.convert("L"), dtype=np.uint16) * 257  # 0..65535
    deep = tmp_path / "deep.png"
    Image.fromarray(grey).save(deep)
    with Image.open(deep) as check:
        assert check.mode.startswith("I")
    assert (await env.run(read_text, {"image": str(deep)}))["text"] == "Scanner 16 bit"

    clear = drawn.image.convert("RGBA")
    clear.putalpha(Image.eval(drawn.image.convert("L"), lambda v: 255 - v))  # ink opaque, paper transparent
    transparent = tmp_path / "alpha.png"
    clear.save(transparent)
    assert (await env.run(read_text, {"image": str(transparent)}))["text"] == "Scanner 16 bit"


async def test_an_image_past_pillows_size_guard_is_refused_by_name(env, form, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the form has 182,000 px: twice the limit
    with pytest.raises(StepError, match=r"form\.png is too large to read safely") as caught:
        await env.run(read_text, {"image": str(form[0])})
    assert caught.value.kind == "bad_input"
