"""Every `ai.*` task type against the local Messages-API stand-in: what is sent, what comes out."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.ai import classify, decide, extract, generate, locate, summarize, translate, vision
from shared.errors import StepError
from shared.steps import Route, StepEnvironment
from tests.agent.steps.ai.conftest import base
from tests.fakes.anthropic_server import FakeAnthropic, error, text, tool_use

SCHEMA = {
    "type": "object",
    "properties": {"number": {"type": "string"}, "total": {"type": "number"}},
    "required": ["number", "total"],
}


async def test_summarize_sends_explicit_settings_and_reports_usage_and_cost(
    fake: FakeAnthropic, env: StepEnvironment
) -> None:
    fake.push(text("Short.", input_tokens=1000, output_tokens=200))
    out = await env.run(
        summarize, base(fake, text="A long text.", max_words=20, model="claude-sonnet-4-5", temperature=0.2)
    )
    assert out["text"] == "Short."
    # 1000 * 3 + 200 * 15 per million tokens
    assert out["usage"] == {"input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.006, "model": "claude-sonnet-4-5"}
    sent = fake.requests[0].json
    assert sent["max_tokens"] == 1024
    assert sent["temperature"] == 0.2
    assert "20 words" in sent["system"]
    assert fake.requests[0].headers["x-stainless-timeout"] == "10.0"
    assert fake.requests[0].headers["x-stainless-retry-count"] == "0"


async def test_generate_and_translate_return_text(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(text("Dear customer"), text("Sehr geehrter Kunde"))
    gen = await env.run(generate, base(fake, prompt="Write a greeting", system="Be brief."))
    tr = await env.run(translate, base(fake, text="Dear customer", target_language="German"))
    assert gen["text"] == "Dear customer"
    assert tr["text"] == "Sehr geehrter Kunde"
    assert fake.requests[0].json["system"] == "Be brief."
    assert "German" in fake.requests[1].json["system"]


async def test_classify_forces_a_tool_with_the_labels_and_returns_confidence(
    fake: FakeAnthropic, env: StepEnvironment
) -> None:
    fake.push(tool_use({"label": "invoice", "confidence": 0.93, "reason": "has a total"}, name="classify"))
    out = await env.run(classify, base(fake, text="Total 12 EUR", labels=["invoice", "complaint"]))
    assert (out["label"], out["confidence"], out["reason"]) == ("invoice", 0.93, "has a total")
    sent = fake.requests[0].json
    assert sent["tool_choice"] == {"type": "tool", "name": "classify"}
    assert sent["tools"][0]["input_schema"]["properties"]["label"]["enum"] == ["invoice", "complaint"]


async def test_classify_answer_outside_the_labels_is_a_clear_error(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(tool_use({"label": "spam", "confidence": 1, "reason": "?"}, name="classify"))
    with pytest.raises(StepError) as err:
        await env.run(classify, base(fake, text="x", labels=["invoice", "complaint"]))
    assert err.value.kind == "ai_output"
    assert "'spam'" in str(err.value)
    assert not err.value.retryable


async def test_extract_returns_data_valid_on_first_answer(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(tool_use({"number": "A-1", "total": 12.5}))
    out = await env.run(extract, base(fake, text="Invoice A-1, total 12.50", output_schema=SCHEMA))
    assert out["data"] == {"number": "A-1", "total": 12.5}
    assert out["attempts"] == 1
    assert fake.requests[0].json["tools"][0]["input_schema"] == SCHEMA


async def test_extract_retries_once_with_the_validation_errors_fed_back(
    fake: FakeAnthropic, env: StepEnvironment
) -> None:
    fake.push(
        tool_use({"number": "A-1", "total": "12,50"}, input_tokens=100, output_tokens=10),
        tool_use({"number": "A-1", "total": 12.5}, input_tokens=150, output_tokens=10),
    )
    out = await env.run(extract, base(fake, text="Invoice A-1, total 12,50", output_schema=SCHEMA))
    assert out["data"]["total"] == 12.5
    assert out["attempts"] == 2
    assert out["usage"]["input_tokens"] == 250
    assert out["usage"]["output_tokens"] == 20
    second = fake.requests[1]
    result = second.json["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert result["is_error"] is True
    assert "total: '12,50' is not of type 'number'" in result["content"]
    assert second.json["messages"][1]["content"][0]["input"] == {"number": "A-1", "total": "12,50"}


async def test_extract_fails_clearly_after_the_one_retry(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(tool_use({"number": "A-1"}), tool_use({"number": 7}))
    with pytest.raises(StepError) as err:
        await env.run(extract, base(fake, text="Invoice A-1", output_schema=SCHEMA))
    assert err.value.kind == "ai_output"
    assert not err.value.retryable
    assert "after one retry" in str(err.value)
    assert err.value.details["problems"] == [
        "(root): 'total' is a required property",
        "number: 7 is not of type 'string'",
    ]
    assert len(fake.requests) == 2


def test_extract_rejects_a_bad_schema_before_a_run() -> None:
    from agent.steps.ai._extract import ExtractParams

    with pytest.raises(ValueError, match="must describe an object"):
        ExtractParams.model_validate({"text": "x", "output_schema": {"type": "string"}})
    with pytest.raises(ValueError, match="not a valid JSON Schema at properties/total/type"):
        ExtractParams.model_validate(
            {"text": "x", "output_schema": {"type": "object", "properties": {"total": {"type": 5}}}}
        )


async def test_decide_routes_to_the_chosen_option_with_its_reason(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(tool_use({"choice": "refund", "confidence": 0.8, "reason": "under 50 EUR"}, name="decide"))
    route = await env.run(decide, base(fake, text="Customer wants 20 EUR back", options=["refund", "escalate"]))
    assert isinstance(route, Route)
    assert route.port == "refund"
    assert route.output["reason"] == "under 50 EUR"
    assert route.output["usage"]["input_tokens"] == 10


def _png(path: Path, size: tuple[int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", size, (200, 200, 200)).save(path)
    return path


async def test_vision_describes_an_artifact_image(fake: FakeAnthropic, env: StepEnvironment) -> None:
    (env.artifacts_dir / env.execution_id / "shot").mkdir(parents=True)
    _png(env.artifacts_dir / env.execution_id / "shot" / "screen.png", (64, 48))
    fake.push(text("A grey square."))
    out = await env.run(vision, base(fake, image="shot/screen.png", prompt="What is this?"))
    assert out["text"] == "A grey square."
    assert out["image"] == {"width": 64, "height": 48}
    content = fake.requests[0].json["messages"][0]["content"]
    assert content[0]["type"] == "image"
    assert content[0]["source"]["media_type"] == "image/png"
    assert content[1] == {"type": "text", "text": "What is this?"}


async def test_vision_extracts_from_a_rendered_pdf_page(
    fake: FakeAnthropic, env: StepEnvironment, tmp_path: Path
) -> None:
    import base64
    import io

    import pypdfium2
    from PIL import Image

    pdf = pypdfium2.PdfDocument.new()
    pdf.new_page(200, 100)
    pdf.new_page(300, 150)
    pdf.save(tmp_path / "doc.pdf")
    pdf.close()
    fake.push(tool_use({"number": "B-2", "total": 3}))
    out = await env.run(vision, base(fake, pdf=str(tmp_path / "doc.pdf"), page=2, output_schema=SCHEMA))
    assert out["data"] == {"number": "B-2", "total": 3}
    sent = fake.requests[0].json["messages"][0]["content"][0]["source"]["data"]
    assert Image.open(io.BytesIO(base64.b64decode(sent))).size == (625, 313)  # 300x150 pt at 150 dpi
    with pytest.raises(StepError, match="has 2 pages, not 3"):
        await env.run(vision, base(fake, pdf=str(tmp_path / "doc.pdf"), page=3))


async def test_vision_needs_exactly_one_source(fake: FakeAnthropic, env: StepEnvironment) -> None:
    with pytest.raises(StepError, match="exactly one of `image` and `pdf`"):
        await env.run(vision, base(fake))
    with pytest.raises(StepError, match=r"no such file: missing\.png"):
        await env.run(vision, base(fake, image="missing.png"))


async def test_locate_scales_the_box_back_to_screen_pixels_as_a_region_target(
    fake: FakeAnthropic, env: StepEnvironment, tmp_path: Path
) -> None:
    from agent.steps.desktop import parse_target

    _png(tmp_path / "big.png", (3136, 1000))  # sent at half size: 1568x500
    fake.push(tool_use({"found": True, "left": 100, "top": 50, "width": 40, "height": 20}, name="box"))
    out = await env.run(locate, base(fake, image=str(tmp_path / "big.png"), description="the Save button"))
    assert out["box"] == {"left": 200, "top": 100, "width": 80, "height": 40}
    assert out["target"] == "region:200,100,280,140"
    assert out["center"] == {"x": 240, "y": 120}
    assert parse_target(out["target"])[0].kind == "region"
    assert "1568x500 pixels" in fake.requests[0].text()
    fake.push(tool_use({"found": True, "left": 100, "top": 50, "width": 40, "height": 20}, name="box"))
    image = str(tmp_path / "big.png")
    moved = await env.run(locate, base(fake, image=image, description="x", origin_left=5, origin_top=7))
    assert moved["target"] == "region:205,107,285,147"


async def test_locate_not_found(fake: FakeAnthropic, env: StepEnvironment, tmp_path: Path) -> None:
    _png(tmp_path / "s.png", (50, 50))
    fake.push(tool_use({"found": False}, name="box"), tool_use({"found": False}, name="box"))
    out = await env.run(locate, base(fake, image=str(tmp_path / "s.png"), description="x", required=False))
    assert out["found"] is False
    assert out["target"] is None
    with pytest.raises(StepError) as err:
        await env.run(locate, base(fake, image=str(tmp_path / "s.png"), description="the OK button"))
    assert err.value.kind == "element_not_found"
    assert "'the OK button'" in str(err.value)


def test_the_installed_sdk_takes_no_temperature_argument_so_it_goes_in_the_body() -> None:
    # When an SDK update adds the argument, the step passes it as one (and this test says so).
    import inspect

    import anthropic

    from agent.steps.ai._client import _sdk_takes_temperature

    accepted = "temperature" in inspect.signature(anthropic.resources.messages.AsyncMessages.create).parameters
    assert _sdk_takes_temperature() is accepted is False


async def test_a_model_refusing_temperature_is_a_clear_error(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(error(400, "temperature: not supported for this model"))
    with pytest.raises(StepError) as err:
        await env.run(summarize, base(fake, text="A long text.", temperature=0.3))
    assert fake.requests[0].json["temperature"] == 0.3
    assert (err.value.kind, err.value.retryable, err.value.details["param"]) == (
        "invalid_request",
        False,
        "temperature",
    )
    assert "leave temperature empty" in str(err.value)


async def test_no_temperature_is_sent_when_none_is_set(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(text("Short."))
    await env.run(summarize, base(fake, text="A long text."))
    assert "temperature" not in fake.requests[0].json
