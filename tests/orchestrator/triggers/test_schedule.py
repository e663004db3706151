"""Due times of schedules, from a given `now`: DST both ways, seconds, intervals, calendars,
catch-up after downtime and jitter bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from pydantic import ValidationError

from orchestrator.triggers import Schedule, ScheduleConfig


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_daily_0230_fires_once_on_the_spring_forward_day() -> None:
    schedule = Schedule(ScheduleConfig(cron="30 2 * * *", timezone="Europe/Paris"))
    # Paris springs forward on 2026-03-29 at 02:00 (01:00 UTC): 02:30 does not exist that day.
    times = schedule.between(at(2026, 3, 28, 12), at(2026, 3, 30, 12))
    assert times == [at(2026, 3, 29, 1, 30), at(2026, 3, 30, 0, 30)]  # 03:30 CEST, then 02:30 CEST


def test_a_daily_0230_fires_once_on_the_fall_back_day() -> None:
    schedule = Schedule(ScheduleConfig(cron="30 2 * * *", timezone="Europe/Paris"))
    # Paris falls back on 2026-10-25 at 03:00 (01:00 UTC): 02:30 happens twice; it fires at the first.
    times = schedule.between(at(2026, 10, 24, 12), at(2026, 10, 26, 12))
    assert times == [at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]


def test_due_times_only_grow_across_a_dst_change() -> None:
    schedule = Schedule(ScheduleConfig(cron="*/30 * * * *", timezone="America/New_York"))
    for start in (at(2026, 3, 8, 5), at(2026, 11, 1, 4)):
        times = schedule.next_times(start, 12)
        assert times == sorted(set(times))
        # The repeated hour of a fall-back day is not run twice: at most 90 minutes apart, never out of order.
        assert all(later - earlier <= timedelta(minutes=90) for earlier, later in pairwise(times))


def test_six_fields_put_seconds_first_and_intervals_count_from_the_epoch() -> None:
    seconds = Schedule(ScheduleConfig(cron="15 * * * * *"))
    assert seconds.next_times(at(2026, 1, 1, 0, 0, 20), 2) == [at(2026, 1, 1, 0, 1, 15), at(2026, 1, 1, 0, 2, 15)]
    every = Schedule(ScheduleConfig(every_s=90))
    assert every.next_times(at(2026, 1, 1, 0, 0, 10), 2) == [at(2026, 1, 1, 0, 1, 30), at(2026, 1, 1, 0, 3)]


def test_excluded_days_are_skipped_in_the_schedules_zone() -> None:
    schedule = Schedule(
        ScheduleConfig(
            cron="0 9 * * *", timezone="Europe/Paris", exclude_weekdays=[5, 6], exclude_dates=[date(2026, 12, 25)]
        )
    )
    days = [t.astimezone(schedule.zone).date() for t in schedule.next_times(at(2026, 12, 23), 4)]
    assert days == [date(2026, 12, 23), date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 29)]
    never = Schedule(ScheduleConfig(every_s=3600, exclude_weekdays=list(range(7))))
    assert never.next_after(at(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("none", []),
        ("latest", [at(2026, 1, 1, 0, 50)]),
        ("all", [at(2026, 1, 1, 0, 30), at(2026, 1, 1, 0, 40), at(2026, 1, 1, 0, 50)]),
    ],
)
def test_catch_up_after_downtime_follows_the_policy(policy: str, expected: list[datetime]) -> None:
    schedule = Schedule(ScheduleConfig(every_s=600, catch_up=policy, catch_up_window_s=1500))  # type: ignore[arg-type]
    # Down from 00:05 to 00:55: due at 00:10 … 00:50; the window reaches back to 00:30.
    assert schedule.catch_up(at(2026, 1, 1, 0, 5), at(2026, 1, 1, 0, 55)) == expected


def test_jitter_stays_within_its_bounds_and_is_the_same_in_every_process() -> None:
    schedule = Schedule(ScheduleConfig(every_s=60, jitter_s=5))
    delays = [schedule.jitter("t1", at(2026, 1, 1) + timedelta(minutes=n)) for n in range(500)]
    assert all(0 <= d <= 5 for d in delays)
    assert max(delays) > 4  # spread over the range, not stuck at one end
    assert min(delays) < 1
    assert delays == [schedule.jitter("t1", at(2026, 1, 1) + timedelta(minutes=n)) for n in range(500)]
    assert Schedule(ScheduleConfig(every_s=60)).jitter("t1", at(2026, 1, 1)) == 0


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"cron": "61 * * * *"}, "not a cron expression"),
        ({"cron": "* * *"}, "not a cron expression"),
        ({"cron": "* * * * *", "every_s": 60}, "either `cron` or `every_s`"),
        ({"every_s": 60, "timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"every_s": 60, "exclude_weekdays": [7]}, r"0 \(Monday\) to 6"),
    ],
)
def test_a_bad_schedule_is_refused_saying_why(config: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ScheduleConfig.model_validate(config)
