"""The one boundary where tesseract, Pillow and pypdfium2 failures become step errors.

Everything below this module raises its own small exceptions (`TesseractFailed`,
`TesseractMissing`) or the libraries' ones; `map_tesseract_errors()` turns each into a
`StepError` with a kind and a truthful `retryable`, so nothing foreign reaches the engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from shared.errors import MissingDependency, StepError

_LANGUAGE_FAILED = re.compile(r"Failed loading language '([^']+)'")


class TesseractMissing(Exception):
    """The tesseract program could not be started."""


class TesseractFailed(Exception):
    """tesseract exited with an error.

    Args:
        returncode: its exit status.
        stderr: what it printed on standard error (never contains a secret: it sees only pixels).
    """

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"tesseract exited with status {returncode}: {stderr.strip()[-500:]}")
        self.returncode = returncode
        self.stderr = stderr


class LanguageMissing(Exception):
    """A language asked for has no trained data installed."""

    def __init__(self, missing: list[str], installed: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing
        self.installed = installed


def language_error(missing: list[str], installed: list[str]) -> StepError:
    """The error for languages that are not installed, naming the packages that bring them."""
    packages = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
    return StepError(
        f"OCR language {', '.join(repr(m) for m in missing)} is not installed "
        f"(installed: {', '.join(installed) or 'none'}); install the system package {packages}",
        kind="dependency",
        retryable=False,
        details={"missing": missing, "installed": installed, "system_packages": packages.split()},
    )


def bad_image_error(source: str, exc: BaseException) -> StepError:
    """The error for an image file that cannot be read."""
    reason = str(exc) or type(exc).__name__
    return StepError(
        f"cannot read the image {source}: {reason}",
        kind="bad_input",
        retryable=False,
        details={"file": source},
    )


def _tesseract_failure(exc: TesseractFailed) -> StepError:
    found = _LANGUAGE_FAILED.search(exc.stderr)
    if found:
        # tesseract names one language it could not load; list the installed ones too.
        from agent.steps.ocr._engine import installed_languages

        return language_error([found.group(1)], installed_languages())
    return StepError(
        f"tesseract failed (status {exc.returncode}): {exc.stderr.strip()[-300:]}",
        kind="ocr_failed",
        retryable=False,
        details={"returncode": exc.returncode},
    )


@contextmanager
def map_tesseract_errors(source: str = "the image") -> Iterator[None]:
    """Translate tesseract, image and PDF library failures into step errors.

    Args:
        source: what is being read (a file path, `page 3 of a.pdf`), named in the messages.
    """
    try:
        yield
    except StepError:
        raise
    except TesseractMissing:
        raise MissingDependency("tesseract", system_package="tesseract-ocr") from None
    except LanguageMissing as exc:
        raise language_error(exc.missing, exc.installed) from None
    except TesseractFailed as exc:
        raise _tesseract_failure(exc) from None
    except FileNotFoundError as exc:
        raise StepError(
            f"{source} does not exist", kind="bad_input", retryable=False, details={"file": exc.filename or source}
        ) from None
    except MemoryError:
        raise StepError(f"not enough memory to OCR {source}", kind="resources", retryable=True) from None
    except (OSError, ValueError, SyntaxError) as exc:
        # Pillow raises UnidentifiedImageError (an OSError) or SyntaxError/ValueError for broken
        # files; pypdfium2's PdfiumError is translated where documents are opened and rendered.
        raise bad_image_error(source, exc) from None
    except Exception as exc:
        if type(exc).__name__ != "DecompressionBombError":  # Pillow's guard against huge images
            raise
        raise StepError(f"{source} is too large to read safely: {exc}", kind="bad_input", retryable=False) from None
