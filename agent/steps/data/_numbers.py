"""`data.format_number` and `data.parse_number`: numbers and currencies by locale (Babel, BSD)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from importlib.util import find_spec
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import BusinessError, MissingDependency
from shared.steps import step


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _need() -> None:
    if find_spec("babel") is None:
        raise MissingDependency("Babel (number and currency formats)", extra="data")


def _known_locale(value: str) -> str:
    if find_spec("babel") is None:
        return value
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown locale '{value}': use a name such as 'en_US', 'de_DE' or 'pt_PT'") from None
    return value.replace("-", "_")


@contextmanager
def map_babel_errors(text: str, locale: str) -> Iterator[None]:
    """Translate Babel's parse errors."""
    from babel.numbers import NumberFormatError

    try:
        yield
    except NumberFormatError as exc:
        raise BusinessError(f"'{text}' is not a number in locale {locale}: {exc}", kind="data") from None


class FormatNumberParams(_Params):
    value: float | int | str = Field(description="The number (a numeric string is accepted).")
    locale: str = Field(default="en_US", description="Locale whose separators and symbols to use, e.g. de_DE.")
    style: Literal["decimal", "currency", "percent"] = Field(default="decimal", description="How to write it.")
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="ISO 4217 code for `currency` style, e.g. EUR."
    )
    pattern: str | None = Field(default=None, description="A CLDR number pattern, e.g. '#,##0.00' (overrides style).")

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return _known_locale(value)


def _decimal(value: float | int | str) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        raise BusinessError(f"'{value}' is not a number", kind="data") from None


@step("data.format_number", params=FormatNumberParams, output="The number as text in the locale.", effects=False)
def format_number(params: FormatNumberParams) -> str:
    """Write a number, an amount of money or a percentage the way a locale does (Babel).

    Example node:
        {"id": "amount", "type": "data.format_number",
         "params": {"value": 1234.5, "locale": "de_DE", "style": "currency", "currency": "EUR"}}
    """
    _need()
    from babel import numbers

    value = _decimal(params.value)
    if params.style == "currency":
        if not params.currency:
            raise BusinessError("style 'currency' needs `currency` (e.g. EUR)", kind="data")
        return str(numbers.format_currency(value, params.currency, format=params.pattern, locale=params.locale))
    if params.style == "percent":
        return str(numbers.format_percent(value, format=params.pattern, locale=params.locale))
    return str(numbers.format_decimal(value, format=params.pattern, locale=params.locale))


class ParseNumberParams(_Params):
    text: str = Field(min_length=1, description="The text, e.g. '1.234,50 €' or '$1,234.50'.")
    locale: str = Field(default="en_US", description="Locale the text is written in, e.g. de_DE.")
    strict: bool = Field(default=False, description="Refuse grouping separators in the wrong places.")

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return _known_locale(value)


def _strip_currency(text: str, locale: str) -> str:
    from babel import Locale

    symbols = set(Locale.parse(locale).currency_symbols.values()) | {"€", "$", "£", "¥"}
    cleaned = text.replace("\u00a0", " ").replace("\u202f", " ")
    for symbol in sorted(symbols, key=len, reverse=True):
        if not symbol.isalpha() or len(symbol) > 1:
            cleaned = cleaned.replace(symbol, "")
    return " ".join(w for w in cleaned.split() if not (w.isalpha() and len(w) == 3)).strip()


@step("data.parse_number", params=ParseNumberParams, output="The number (integer or float).", effects=False)
def parse_number(params: ParseNumberParams) -> Any:
    """Read a number or an amount written the way a locale does; currency symbols and codes are ignored.

    Example node:
        {"id": "total", "type": "data.parse_number", "params": {"text": "1.234,50 €", "locale": "de_DE"}}
    """
    _need()
    from babel import numbers

    text = _strip_currency(params.text, params.locale)
    negative = text.startswith("(") and text.endswith(")")
    with map_babel_errors(params.text, params.locale):
        value = numbers.parse_decimal(text.strip("()").replace(" ", ""), locale=params.locale, strict=params.strict)
    value = -value if negative else value
    return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
