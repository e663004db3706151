"""`word.*`: read Word documents, fill templates, convert to PDF.

python-docx (MIT) reads and writes `.docx`; placeholders are filled by our own code on its runs
(docxtpl is LGPL-2.1); LibreOffice, when installed, converts to PDF.
"""

from agent.steps.word._steps import fill_template, map_docx_errors, read, to_pdf

WORD_STEPS = (read, fill_template, to_pdf)

__all__ = ["WORD_STEPS", "fill_template", "map_docx_errors", "read", "to_pdf"]
