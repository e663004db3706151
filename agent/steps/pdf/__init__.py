"""`pdf.*`: read, search, render, fill and reshape PDF documents.

pypdfium2 (Apache-2.0/BSD) reads text, page counts and renders pages: the fast path.
pdfplumber (MIT) is used when a step asks for tables, words with positions or layout, and
pypdf (BSD) for forms and page operations. PyMuPDF is AGPL and is never used. Every library
error is translated in `_errors.map_pdf_errors`.
"""

from agent.steps.pdf._errors import map_pdf_errors
from agent.steps.pdf._forms import fill_form, read_form
from agent.steps.pdf._pages import decrypt, encrypt, extract_pages, merge, rotate, set_metadata, split
from agent.steps.pdf._tables import read_tables
from agent.steps.pdf._text import info, read_text, render_page
from agent.steps.pdf._words import find_near, words

PDF_STEPS = (
    info,
    read_text,
    words,
    find_near,
    read_tables,
    render_page,
    read_form,
    fill_form,
    merge,
    split,
    extract_pages,
    rotate,
    set_metadata,
    encrypt,
    decrypt,
)

__all__ = [
    "PDF_STEPS",
    "decrypt",
    "encrypt",
    "extract_pages",
    "fill_form",
    "find_near",
    "info",
    "map_pdf_errors",
    "merge",
    "read_form",
    "read_tables",
    "read_text",
    "render_page",
    "rotate",
    "set_metadata",
    "split",
    "words",
]
