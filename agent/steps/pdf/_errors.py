"""The one boundary where pypdfium2, pdfplumber (pdfminer) and pypdf errors become step errors.

Every `pdf.*` step opens and reads documents inside `map_pdf_errors(path, page)`, so an
encrypted file without a password, a damaged file or a missing one is reported the same way
whichever library met it first, naming the file (and the page when there is one). Nothing
foreign reaches the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.errors import BusinessError, MissingDependency, StepError

_PASSWORD_WORDS = ("password", "encrypt", "decrypt")


def _where(path: Path | str, page: int | None) -> str:
    name = Path(path).name
    return f"'{name}' page {page}" if page is not None else f"'{name}'"


def encrypted_error(path: Path | str, credential: str | None) -> StepError:
    """The error for an encrypted document that the given credential (or none) does not open."""
    name = Path(path).name
    if credential is None:
        message = f"'{name}' is encrypted: name the credential holding its password in `password`"
    else:
        message = f"the password from credential '{credential}' does not open '{name}'"
    return StepError(message, kind="pdf_encrypted", retryable=False, details={"file": name})


def damaged_error(path: Path | str, page: int | None, reason: str) -> StepError:
    """The error for a file that is not a readable PDF."""
    return StepError(
        f"{_where(path, page)} is not a readable PDF (damaged or not a PDF): {reason}",
        kind="pdf_damaged",
        retryable=False,
        details={"file": Path(path).name, "page": page},
    )


def page_out_of_range(path: Path | str, page: int, count: int) -> BusinessError:
    """The error for a page number the document does not have."""
    return BusinessError(
        f"'{Path(path).name}' has {count} page(s): page {page} is out of range",
        kind="page_out_of_range",
        details={"file": Path(path).name, "page": page, "pages": count},
    )


def _is_password_problem(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in _PASSWORD_WORDS)


def _foreign(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return module in {"pypdfium2", "pypdfium2_raw", "pdfminer", "pdfplumber", "pypdf"}


@contextmanager
def map_pdf_errors(path: Path | str, page: int | None = None, credential: str | None = None) -> Iterator[None]:
    """Translate the PDF libraries' errors raised inside the block.

    Args:
        path: the document being read (its name goes into messages, never its content).
        page: the 1-based page being read, when one is.
        credential: the name of the password credential used, if any (never its value).
    """
    try:
        yield
    except StepError:
        raise
    except FileNotFoundError:
        raise StepError(
            f"no PDF file at '{path}'", kind="file_not_found", retryable=False, details={"file": Path(path).name}
        ) from None
    except IsADirectoryError:
        raise StepError(f"'{path}' is a folder, not a PDF file", kind="file_not_found", retryable=False) from None
    except PermissionError:
        raise StepError(f"no permission to read or write '{path}'", kind="permission", retryable=False) from None
    except Exception as exc:
        if type(exc).__name__ == "DependencyError":  # pypdf without `cryptography` for AES
            raise MissingDependency("AES for PDF encryption (cryptography)", extra="pdf") from None
        if not _foreign(exc) and not isinstance(exc, (ValueError, KeyError, TypeError, AssertionError, OSError)):
            raise
        if _is_password_problem(exc):
            raise encrypted_error(path, credential) from None
        raise damaged_error(path, page, f"{type(exc).__name__}: {exc}"[:300]) from None


def need(module: str, what: str, extra: str = "pdf") -> None:
    """Raise `MissingDependency` when `module` cannot be imported."""
    from importlib.util import find_spec

    if find_spec(module) is None:
        raise MissingDependency(what, extra=extra)
