"""`resources/templates/ai_mail_triage.json` validates and runs with `rpa run` against the local
Messages-API stand-in, answering each step by the tool it forces."""

from __future__ import annotations

from pathlib import Path

from tests.agent.steps.ai.conftest import KEY
from tests.agent.steps.templates import run_template
from tests.fakes.anthropic_server import FakeAnthropic, Reply, Request, text, tool_use

ANSWERS = {
    "classify": {"label": "order_issue", "confidence": 0.9, "reason": "mentions an order"},
    "record": {"order": "A-1234", "amount_eur": 19.9},
    "decide": {"choice": "refund", "confidence": 0.8, "reason": "under 50 EUR"},
}


def answer(request: Request) -> Reply:
    tools = request.json.get("tools") or []
    if tools:
        name = tools[0]["name"]
        return tool_use(ANSWERS[name], name=name, model=request.json["model"], input_tokens=200, output_tokens=20)
    return text("Your refund is on its way.", model=request.json["model"])


def test_ai_mail_triage_template_runs(fake: FakeAnthropic, tmp_path: Path) -> None:
    fake.handler = answer
    mail = "Hello, order A-1234 arrived broken, I paid 19.90 EUR."
    result = run_template("ai_mail_triage", tmp_path, {"mail": mail, "base_url": fake.url}, secrets={"anthropic": KEY})
    assert result["status"] == "succeeded", result
    out = result["outputs"]
    assert (out["kind"], out["decision"], out["reason"]) == ("order_issue", "refund", "under 50 EUR")
    assert out["order"] == {"order": "A-1234", "amount_eur": 19.9}
    assert out["reply"] == "Your refund is on its way."
    assert out["cost_usd"] == 3 * 0.0003  # claude-haiku-4-5: 200 * 1 + 20 * 5 per million tokens
    assert [r.json["model"] for r in fake.requests] == ["claude-haiku-4-5"] * 4
    assert KEY not in str(result)


def test_ai_invoice_vision_template_reads_the_rendered_page(fake: FakeAnthropic, tmp_path: Path) -> None:
    import base64
    import io

    from PIL import Image

    invoice = Path(__file__).resolve().parents[4] / "resources" / "templates" / "assets" / "invoice.pdf"
    fake.push(
        tool_use({"invoice_number": "INV-2026-0042", "date": "07.12.2026", "total": 170.5, "currency": "EUR"}),
        tool_use({"invoice_number": "INV-2026-0042", "date": "2026-12-07", "total": 170.5, "currency": "EUR"}),
        text("-"),
    )
    result = run_template(
        "ai_invoice_vision", tmp_path, {"file": str(invoice), "base_url": fake.url}, secrets={"anthropic": KEY}
    )
    assert result["status"] == "succeeded", result
    out = result["outputs"]
    assert out["invoice"]["date"] == "2026-12-07"
    assert out["attempts"] == 2
    assert "date: '07.12.2026' does not match" in fake.requests[1].text()
    image = fake.requests[0].json["messages"][0]["content"][0]["source"]["data"]
    assert Image.open(io.BytesIO(base64.b64decode(image))).width > 1000  # an A4 page at 150 dpi
