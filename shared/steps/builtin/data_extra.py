"""`data.*` dates with time zones: parse, format, add, count business days (stdlib `zoneinfo`).

Values are ISO 8601 strings (`2026-12-07`, `2026-12-07T10:30:00+01:00`) in and out, as every
table value carries dates, so a value is the same in a fresh run and after a resume. Time zones
are IANA names (`Europe/Lisbon`); an unknown one is refused by `rpa validate` before a run.
Adding days or months keeps the wall-clock time in the value's zone, across daylight saving
changes (10:00 stays 10:00, the offset moves).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import BusinessError
from shared.steps._api import step

WEEKEND = (5, 6)
"""Saturday and Sunday (Monday is 0)."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _zone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}': use an IANA name such as 'Europe/Lisbon' or 'UTC'") from None
    return name


def _parse_iso(value: str, what: str = "value") -> dt.datetime | dt.date:
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BusinessError(f"{what} '{value}' is not an ISO 8601 date or date-time", kind="data") from None


def _iso(value: dt.datetime | dt.date) -> str:
    return value.isoformat()


def _in_zone(value: dt.datetime, zone: str | None) -> dt.datetime:
    if zone is None:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(ZoneInfo(zone))


class DateParseParams(_Params):
    value: str = Field(min_length=1, description="The text to read, e.g. '07/12/2026 10:30' or '2026-12-07'.")
    format: str | None = Field(default=None, description="strptime format, e.g. '%d/%m/%Y %H:%M'; empty = ISO 8601.")
    timezone: str | None = Field(
        default=None, description="Zone of a value without an offset, e.g. 'Europe/Lisbon'; empty = keep it naive."
    )
    to_timezone: str | None = Field(default=None, description="Convert the result to this zone.")
    date_only: bool = Field(default=False, description="Return only the date part (2026-12-07).")

    @field_validator("timezone", "to_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return _zone(value)


@step("data.date_parse", params=DateParseParams, output="The date or date-time as ISO 8601 text.", effects=False)
def date_parse(params: DateParseParams) -> str:
    """Read a date or date-time from text into ISO 8601, in a time zone.

    Example node:
        {"id": "due", "type": "data.date_parse",
         "params": {"value": "07/12/2026 10:30", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Lisbon"}}
    """
    if params.format:
        try:
            parsed: dt.datetime | dt.date = dt.datetime.strptime(params.value.strip(), params.format)
        except ValueError:
            raise BusinessError(f"'{params.value}' does not match the format '{params.format}'", kind="data") from None
    else:
        parsed = _parse_iso(params.value)
    if isinstance(parsed, dt.datetime):
        parsed = _in_zone(parsed, params.timezone)
        if params.to_timezone:
            if parsed.tzinfo is None:
                raise BusinessError("to_timezone needs a value with an offset, or `timezone`", kind="data")
            parsed = parsed.astimezone(ZoneInfo(params.to_timezone))
        if params.date_only:
            return _iso(parsed.date())
    return _iso(parsed)


class DateFormatParams(_Params):
    value: str = Field(min_length=1, description="An ISO 8601 date or date-time.")
    format: str = Field(min_length=1, description="strftime format, e.g. '%d %b %Y, %H:%M'.")
    timezone: str | None = Field(default=None, description="Convert to this zone before formatting.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return _zone(value)


@step("data.date_format", params=DateFormatParams, output="The formatted text.", effects=False)
def date_format(params: DateFormatParams) -> str:
    """Write an ISO 8601 date or date-time in another format, optionally in another time zone.

    Example node:
        {"id": "label", "type": "data.date_format",
         "params": {"value": "{{ steps.due.output }}", "format": "%d/%m/%Y", "timezone": "America/New_York"}}
    """
    value = _parse_iso(params.value)
    if isinstance(value, dt.datetime) and params.timezone:
        if value.tzinfo is None:
            raise BusinessError(f"'{params.value}' has no offset: it cannot be converted to a zone", kind="data")
        value = value.astimezone(ZoneInfo(params.timezone))
    return value.strftime(params.format)


class DateAddParams(_Params):
    value: str = Field(min_length=1, description="An ISO 8601 date or date-time.")
    years: int = Field(default=0, description="Years to add (negative to subtract); the 29th of February clamps.")
    months: int = Field(default=0, description="Months to add; the day clamps to the month's last day.")
    weeks: int = Field(default=0, description="Weeks to add.")
    days: int = Field(default=0, description="Calendar days to add.")
    hours: float = Field(default=0, description="Hours to add.")
    minutes: float = Field(default=0, description="Minutes to add.")
    business_days: int = Field(default=0, description="Business days to add after the rest (skips weekends, holidays).")
    holidays: list[str] = Field(default_factory=list, description="ISO dates that are not business days.")
    weekend: list[int] = Field(
        default=list(WEEKEND), description="Weekday numbers that are not business days (Monday=0)."
    )


def _add_months(value: Any, months: int) -> Any:
    total = value.month - 1 + months
    year, month = value.year + total // 12, total % 12 + 1
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


def _holidays(values: list[str]) -> set[dt.date]:
    found = set()
    for text in values:
        parsed = _parse_iso(text, "holiday")
        found.add(parsed.date() if isinstance(parsed, dt.datetime) else parsed)
    return found


def _is_business(day: dt.date, weekend: set[int], holidays: set[dt.date]) -> bool:
    return day.weekday() not in weekend and day not in holidays


@step("data.date_add", params=DateAddParams, output="The new date or date-time as ISO 8601 text.", effects=False)
def date_add(params: DateAddParams) -> str:
    """Add (or subtract) years, months, days, hours and business days to a date or date-time.

    Example node:
        {"id": "due", "type": "data.date_add",
         "params": {"value": "{{ steps.invoice_date.output }}", "business_days": 10, "holidays": ["2026-12-25"]}}
    """
    value: Any = _parse_iso(params.value)
    value = _add_months(value, params.years * 12 + params.months)
    value = value + dt.timedelta(weeks=params.weeks, days=params.days)
    if isinstance(value, dt.datetime):
        value = value + dt.timedelta(hours=params.hours, minutes=params.minutes)
    elif params.hours or params.minutes:
        raise BusinessError(f"'{params.value}' is a date: add hours and minutes to a date-time", kind="data")
    weekend, holidays = set(params.weekend), _holidays(params.holidays)
    if len(weekend) >= 7 and params.business_days:
        raise BusinessError("every day of the week is a weekend day: no business day to add", kind="data")
    step_by = 1 if params.business_days >= 0 else -1
    for _ in range(abs(params.business_days)):
        value = value + dt.timedelta(days=step_by)
        while not _is_business(value if type(value) is dt.date else value.date(), weekend, holidays):
            value = value + dt.timedelta(days=step_by)
    return _iso(value)


class BusinessDaysParams(_Params):
    start: str = Field(min_length=1, description="First day (ISO 8601), counted.")
    end: str = Field(min_length=1, description="Last day (ISO 8601), not counted: [start, end).")
    holidays: list[str] = Field(default_factory=list, description="ISO dates that are not business days.")
    weekend: list[int] = Field(
        default=list(WEEKEND), description="Weekday numbers that are not business days (Monday=0)."
    )


@step(
    "data.business_days",
    params=BusinessDaysParams,
    output="The number of business days in [start, end).",
    effects=False,
)
def business_days(params: BusinessDaysParams) -> int:
    """Count the business days from `start` up to, not including, `end` (negative when end < start).

    Example node:
        {"id": "late", "type": "data.business_days",
         "params": {"start": "{{ steps.due.output }}", "end": "{{ execution.started_at }}"}}
    """
    start, end = (_parse_iso(v, n) for v, n in ((params.start, "start"), (params.end, "end")))
    first = start.date() if isinstance(start, dt.datetime) else start
    last = end.date() if isinstance(end, dt.datetime) else end
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    weekend, holidays = set(params.weekend), _holidays(params.holidays)
    days = (last - first).days
    whole, rest = divmod(days, 7)
    count = whole * (7 - len(weekend)) - sum(1 for h in holidays if first <= h < last and h.weekday() not in weekend)
    day = first + dt.timedelta(days=whole * 7)
    for _ in range(rest):
        if day.weekday() not in weekend:
            count += 1
        day += dt.timedelta(days=1)
    return sign * count


DATA_EXTRA_STEPS = (date_parse, date_format, date_add, business_days)
