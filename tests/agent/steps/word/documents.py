"""Word documents generated with python-docx for the tests and the example flow."""

from __future__ import annotations

from pathlib import Path


def letter_template(path: Path) -> Path:
    """A letter: placeholders split over runs, in a header and a table with a repeated row."""
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "{{ company }} - customer letter"
    greeting = document.add_paragraph()
    greeting.add_run("Dear {{ cust")
    bold = greeting.add_run("omer.name }}")
    bold.bold = True
    greeting.add_run(", your order {{ order }} is ready.")
    table = document.add_table(rows=3, cols=3)
    for cell, text in zip(table.rows[0].cells, ["Item", "Qty", "Price"], strict=True):
        cell.text = text
    for cell, text in zip(
        table.rows[1].cells, ["{{ items.Item }}", "{{ items.Qty }}", "{{ items.Price }}"], strict=True
    ):
        cell.text = text
    table.rows[2].cells[0].text = "Total"
    table.rows[2].cells[2].text = "{{ total }}"
    document.add_paragraph("Kind regards,\n{{ sender }}")
    document.save(str(path))
    return path


def plain_document(path: Path) -> Path:
    """Two paragraphs and one table of known content."""
    import docx

    document = docx.Document()
    document.add_paragraph("Quarterly report")
    document.add_paragraph("All figures in EUR.")
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(table.rows, [("Region", "Sales"), ("North", "120"), ("South", "95")], strict=True):
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
    document.save(str(path))
    return path
