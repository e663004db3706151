"""data.date_* and data.business_days: time zones, DST, months, business days."""

from __future__ import annotations

import pytest

from shared.errors import BusinessError, StepError
from shared.steps import StepEnvironment
from shared.steps.builtin.data_extra import business_days, date_add, date_format, date_parse


@pytest.fixture
def env() -> StepEnvironment:
    return StepEnvironment()


async def test_parse_with_a_format_and_a_zone(env: StepEnvironment) -> None:
    params = {"value": "07/12/2026 10:30", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/Lisbon"}
    assert await env.run(date_parse, params) == "2026-12-07T10:30:00+00:00"
    summer = {**params, "value": "07/07/2026 10:30"}
    assert await env.run(date_parse, summer) == "2026-07-07T10:30:00+01:00"
    converted = {**params, "to_timezone": "Asia/Tokyo"}
    assert await env.run(date_parse, converted) == "2026-12-07T19:30:00+09:00"
    assert (
        await env.run(date_parse, {"value": "2026-12-07T23:30:00Z", "to_timezone": "Europe/Berlin", "date_only": True})
        == "2026-12-08"
    )
    assert await env.run(date_parse, {"value": "2026-12-07"}) == "2026-12-07"


async def test_bad_dates_and_zones_are_clear_errors(env: StepEnvironment) -> None:
    with pytest.raises(BusinessError, match="'31/02/2026' does not match the format '%d/%m/%Y'"):
        await env.run(date_parse, {"value": "31/02/2026", "format": "%d/%m/%Y"})
    with pytest.raises(BusinessError, match="'next tuesday' is not an ISO 8601"):
        await env.run(date_parse, {"value": "next tuesday"})
    with pytest.raises(StepError, match="unknown time zone 'Europe/Lisboa'") as err:
        await env.run(date_parse, {"value": "2026-12-07", "timezone": "Europe/Lisboa"})
    assert err.value.kind == "validation"


async def test_format_in_another_zone(env: StepEnvironment) -> None:
    params = {"value": "2026-12-07T10:30:00+00:00", "format": "%d/%m/%Y %H:%M %Z", "timezone": "America/New_York"}
    assert await env.run(date_format, params) == "07/12/2026 05:30 EST"
    with pytest.raises(BusinessError, match="has no offset"):
        await env.run(date_format, {**params, "value": "2026-12-07T10:30:00"})


async def test_add_keeps_wall_clock_time_across_daylight_saving(env: StepEnvironment) -> None:
    # Lisbon moves to summer time on 2026-03-29: +1 day keeps 10:00 and the offset changes.
    value = "2026-03-28T10:00:00+00:00"
    parsed = await env.run(date_parse, {"value": "2026-03-28T10:00:00", "timezone": "Europe/Lisbon"})
    assert parsed == value
    out = await env.run(date_add, {"value": parsed, "days": 1})
    assert out == "2026-03-29T10:00:00+00:00"  # a fixed offset stays fixed: the value has no zone name
    assert await env.run(date_add, {"value": "2026-01-31", "months": 1}) == "2026-02-28"
    assert await env.run(date_add, {"value": "2024-02-29", "years": 1}) == "2025-02-28"
    assert await env.run(date_add, {"value": "2026-12-07T10:00:00", "hours": 20}) == "2026-12-08T06:00:00"
    with pytest.raises(BusinessError, match="is a date: add hours"):
        await env.run(date_add, {"value": "2026-12-07", "hours": 1})


async def test_add_business_days_skips_weekends_and_holidays(env: StepEnvironment) -> None:
    # Thursday 2026-12-24 + 2 business days, Friday the 25th a holiday -> Tuesday the 29th
    params = {"value": "2026-12-24", "business_days": 2, "holidays": ["2026-12-25"]}
    assert await env.run(date_add, params) == "2026-12-29"
    assert (
        await env.run(date_add, {"value": "2026-12-29", "business_days": -2, "holidays": ["2026-12-25"]})
        == "2026-12-24"
    )
    friday_weekend = {"value": "2026-12-10", "business_days": 1, "weekend": [4, 5]}
    assert await env.run(date_add, friday_weekend) == "2026-12-13"


@pytest.mark.parametrize(
    ("start", "end", "holidays", "expected"),
    [
        ("2026-12-07", "2026-12-14", [], 5),
        ("2026-12-07", "2026-12-07", [], 0),
        ("2026-12-05", "2026-12-07", [], 0),
        ("2026-12-01", "2027-01-01", ["2026-12-25", "2026-12-26"], 22),
        ("2026-12-14", "2026-12-07", [], -5),
        ("2026-12-07T23:00:00", "2026-12-09T01:00:00", [], 2),
    ],
)
async def test_business_days_between(
    env: StepEnvironment, start: str, end: str, holidays: list[str], expected: int
) -> None:
    assert await env.run(business_days, {"start": start, "end": end, "holidays": holidays}) == expected
