"""Due times of a schedule: pure functions of the config and a given `now` (no clock, no I/O),
so DST, calendars, catch-up and jitter are tested with any instant.

A cron expression is read in the trigger's time zone on the wall clock: on the day clocks spring
forward a time that does not exist (02:30) fires once, at the instant the zone gives it (03:30
new time); on the day they fall back a time that exists twice fires once, at its first
occurrence. Due times only grow: a wall time that lands on an instant already passed is skipped.
Every due time is an aware UTC datetime; its ISO text is the event's key, so two processes never
start the same due time twice.
"""

from __future__ import annotations

import math
import random
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from croniter import croniter

from orchestrator.triggers._kinds import ScheduleConfig, _cron_text

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SCAN = 100_000
"""Candidates looked at before a schedule is declared never due (every day excluded)."""
MAX_CATCH_UP = 1000
"""Due times fired at most by an `all` catch-up."""


class Schedule:
    """The due times of one `ScheduleConfig`."""

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config
        self.zone = zoneinfo.ZoneInfo(config.timezone)
        self._excluded_dates = frozenset(config.exclude_dates)
        self._excluded_days = frozenset(config.exclude_weekdays)

    def _excluded(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone).date()
        return local in self._excluded_dates or local.weekday() in self._excluded_days

    def _candidates(self, after: datetime) -> Iterator[datetime]:
        """Due times strictly after `after`, calendars not applied."""
        if self.config.every_s is not None:
            step = self.config.every_s
            n = math.floor((after - _EPOCH).total_seconds() / step) + 1
            while True:
                yield _EPOCH + timedelta(seconds=n * step)
                n += 1
        assert self.config.cron is not None
        local = after.astimezone(self.zone).replace(tzinfo=None)
        times = croniter(_cron_text(self.config.cron), local)
        while True:
            wall: datetime = times.get_next(datetime)
            yield wall.replace(tzinfo=self.zone).astimezone(UTC)

    def next_after(self, after: datetime) -> datetime | None:
        """The first due time strictly after `after`, or None if the calendars exclude every one."""
        for count, due in enumerate(self._candidates(after)):
            if count > _MAX_SCAN:
                return None
            if due > after and not self._excluded(due):
                return due
        return None  # pragma: no cover - the candidates never end

    def next_times(self, after: datetime, n: int) -> list[datetime]:
        """The next `n` due times after `after`."""
        found: list[datetime] = []
        moment: datetime | None = after
        while len(found) < n and moment is not None:
            moment = self.next_after(moment)
            if moment is not None:
                found.append(moment)
        return found

    def between(self, after: datetime, until: datetime, limit: int = MAX_CATCH_UP) -> list[datetime]:
        """Due times in `(after, until]`, the latest `limit` of them."""
        found: list[datetime] = []
        moment: datetime | None = after
        while True:
            moment = self.next_after(moment) if moment is not None else None
            if moment is None or moment > until:
                return found[-limit:]
            found.append(moment)
            if len(found) > 2 * limit:
                del found[:limit]

    def catch_up(self, last_due: datetime, now: datetime) -> list[datetime]:
        """The due times missed since `last_due` that the catch-up policy fires now."""
        missed = self.between(last_due, now)
        policy = self.config.catch_up
        if not missed or policy == "none":
            return []
        if policy == "latest":
            return missed[-1:]
        window = timedelta(seconds=self.config.catch_up_window_s)
        return [due for due in missed if due >= now - window]

    def jitter(self, trigger_id: str, due: datetime) -> float:
        """Seconds a fire waits after its due time: the same for the same trigger and due time in
        every process (so a takeover does not move it), uniform in `[0, jitter_s]`."""
        if not self.config.jitter_s:
            return 0.0
        return random.Random(f"{trigger_id}|{due.isoformat()}").uniform(0, self.config.jitter_s)
