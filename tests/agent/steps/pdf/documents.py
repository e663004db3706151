"""PDF documents with known content, generated with reportlab (BSD) and pypdf.

Used by the tests, the example flow's assets and `bench/_data_pdf.py`, so every number they
check comes from a document made here, never from a file of unknown origin.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

PASSWORD = "s3cret-pdf-pass"
"""The password of `encrypted.pdf` (test value only)."""

INVOICE_ITEMS = [
    {"Item": "Paper A4", "Qty": "10", "Price": "4.50"},
    {"Item": "Toner black", "Qty": "2", "Price": "61.00"},
    {"Item": "Stapler", "Qty": "1", "Price": "12.25"},
]
UNRULED_ROWS = [
    {"Code": "A-101", "City": "Lisbon", "Amount": "120.00"},
    {"Code": "A-102", "City": "Porto", "Amount": "75.50"},
    {"Code": "A-103", "City": "Braga", "Amount": "9.99"},
]
TEXT_PAGES = ["First page says hello", "Second page has numbers 12345", "Third page ends here"]


def _canvas(buffer: io.BytesIO) -> Any:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    return Canvas(buffer, pagesize=A4, invariant=1)


def _ruled_table(canvas: Any, rows: list[dict[str, str]], x: float, y: float) -> None:
    from reportlab.platypus import Table, TableStyle

    columns = list(rows[0])
    table = Table([columns] + [[r[c] for c in columns] for r in rows], colWidths=[120, 60, 80])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.8, (0, 0, 0))]))
    _, height = table.wrap(0, 0)
    table.drawOn(canvas, x, y - height)


def text_pdf() -> bytes:
    """Three pages, one sentence each (`TEXT_PAGES`), with a title and author."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer)
    canvas.setTitle("Known text")
    canvas.setAuthor("RPA Suite tests")
    for line in TEXT_PAGES:
        canvas.drawString(72, 760, line)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def invoice_pdf() -> bytes:
    """Page 1: labels with values (right of / below) and a ruled table; page 2: an unruled table."""
    buffer = io.BytesIO()
    c = _canvas(buffer)
    c.setFont("Helvetica", 11)
    c.drawString(72, 780, "ACME Supplies Ltd")
    c.drawString(72, 750, "Invoice number:")
    c.drawString(180, 750, "INV-2026-0042")
    c.drawString(380, 750, "Page 1 of 2")
    c.drawString(72, 730, "Date:")
    c.drawString(180, 730, "2026-12-07")
    _ruled_table(c, INVOICE_ITEMS, 72, 700)
    c.drawString(400, 560, "Total")
    c.drawString(400, 545, "170.50 EUR")
    c.showPage()
    c.setFont("Helvetica", 11)
    columns = list(UNRULED_ROWS[0])
    for row_index, row in enumerate([dict(zip(columns, columns, strict=True)), *UNRULED_ROWS]):
        for col_index, column in enumerate(columns):
            c.drawString(72 + 140 * col_index, 760 - 18 * row_index, row[column])
    c.showPage()
    c.save()
    return buffer.getvalue()


def long_table_pdf(pages: int, rows: int = 12) -> bytes:
    """`pages` pages, each a ruled table with a header row and `rows` numbered rows."""
    buffer = io.BytesIO()
    c = _canvas(buffer)
    for page in range(1, pages + 1):
        data = [
            {"Row": f"{page}-{r}", "Qty": str(r * page), "Price": f"{r * 1.25 + page:.2f}"} for r in range(1, rows + 1)
        ]
        c.drawString(72, 800, f"Statement page {page}")
        _ruled_table(c, data, 72, 780)
        c.showPage()
    c.save()
    return buffer.getvalue()


def form_pdf() -> bytes:
    """An AcroForm: text fields `name` and `city`, checkbox `agree`, choice `country`."""
    buffer = io.BytesIO()
    c = _canvas(buffer)
    form = c.acroForm
    c.drawString(72, 760, "Name")
    form.textfield(name="name", x=150, y=750, width=200, height=20, value="")
    c.drawString(72, 720, "City")
    form.textfield(name="city", x=150, y=710, width=200, height=20, value="Lisbon")
    c.drawString(72, 680, "I agree")
    form.checkbox(name="agree", x=150, y=675, size=16, checked=False)
    c.drawString(72, 640, "Country")
    form.choice(name="country", x=150, y=630, width=200, height=20, value="PT", options=["PT", "ES", "FR"])
    c.showPage()
    c.save()
    return buffer.getvalue()


def encrypted_pdf() -> bytes:
    """`text_pdf()` encrypted with AES-256 and `PASSWORD`."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf())))
    writer.encrypt(user_password=PASSWORD, owner_password=PASSWORD, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def damaged_pdf() -> bytes:
    """The first half of a valid PDF: header present, body and cross-reference table cut off."""
    data = text_pdf()
    return data[: len(data) // 2]


def scanned_pdf() -> bytes:
    """Page 1 has text; page 2 is only an image (of the words 'SCANNED 4711') covering the page."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader

    image = Image.new("L", (1240, 1754), 255)
    ImageDraw.Draw(image).text((150, 200), "SCANNED 4711", fill=0, font=ImageFont.load_default(size=80))
    png = io.BytesIO()
    image.save(png, format="PNG")
    buffer = io.BytesIO()
    c = _canvas(buffer)
    c.drawString(72, 760, "A typed cover page")
    c.showPage()
    c.drawImage(ImageReader(io.BytesIO(png.getvalue())), 0, 0, width=A4[0], height=A4[1])
    c.showPage()
    c.save()
    return buffer.getvalue()


ALL = {
    "text.pdf": text_pdf,
    "invoice.pdf": invoice_pdf,
    "form.pdf": form_pdf,
    "encrypted.pdf": encrypted_pdf,
    "damaged.pdf": damaged_pdf,
    "scanned.pdf": scanned_pdf,
}


def write_all(folder: Path) -> dict[str, Path]:
    """Write every document of `ALL` into `folder`; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in ALL.items():
        path = folder / name
        path.write_bytes(make())
        paths[name] = path
    return paths
