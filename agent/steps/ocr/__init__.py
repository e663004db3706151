"""OCR steps (`ocr.*`): text, words with boxes and text search in images, screenshots and PDF pages.

tesseract does the reading (through its command line, as pytesseract does); `find_text` is
also the engine behind the desktop family's `ocr:"Submit"` targets.
"""

from agent.steps.ocr._engine import PSM_MODES, Recognition, Word, installed_languages, recognize
from agent.steps.ocr._errors import map_tesseract_errors
from agent.steps.ocr._match import TextMatch, find_text, match_words
from agent.steps.ocr._steps import OCR_STEPS, find_text_step, languages, read_pdf, read_text, read_words

__all__ = [
    "OCR_STEPS",
    "PSM_MODES",
    "Recognition",
    "TextMatch",
    "Word",
    "find_text",
    "find_text_step",
    "installed_languages",
    "languages",
    "map_tesseract_errors",
    "match_words",
    "read_pdf",
    "read_text",
    "read_words",
    "recognize",
]
