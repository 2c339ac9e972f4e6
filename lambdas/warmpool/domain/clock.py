"""Time is injected: the logic never reads the wall clock itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol


def moment_text(at: datetime) -> str:
    """`2026-03-02 09:25:00 UTC`: a moment as the decisions' reasons and the notifications' headlines
    say it, to the second, in UTC (an ISO timestamp, `2026-03-02T09:25:00.412+00:00`, read as code)."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def in_hour(local: datetime, hour: int) -> bool:
    """Whether `local` (a time on a team's clock) is in the day's `hour`, or, on a day that hour does not
    exist on that clock (clocks put forward over it: 02:00 on a spring-forward day in Berlin or New York),
    in the hour that takes its place: a daily digest at 2 was not sent that day at all."""
    if local.hour == hour:
        return True
    wanted = local.replace(hour=hour, minute=0, second=0, microsecond=0, fold=0)
    # a wall time that does not exist comes back from UTC as the hour after the gap
    shown = wanted.astimezone(UTC).astimezone(local.tzinfo)
    return shown.hour != hour and local.hour == shown.hour and local.date() == shown.date()


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: tests, the demo, the simulator, the emulator."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock start must be timezone-aware (use tzinfo=UTC)")

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards (seconds={seconds})")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError(f"cannot move a clock backwards to {when.isoformat()}")
        self._now = when


def period_ends(now: datetime, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The next midnight and the start of the next month on `zone`'s clock (a team's): where a budget's
    day and month end."""
    local = now.astimezone(zone)
    day_end = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    month_end = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=zone)
    return day_end, month_end


def period_starts(now: datetime, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The last midnight and the first of the month on `zone`'s clock: where a budget's day and month
    began."""
    local = now.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone), datetime(
        local.year, local.month, 1, tzinfo=zone
    )


def days_of(since: datetime, until: datetime, zone: tzinfo = UTC) -> list[tuple[datetime, datetime]]:
    """[since, until) cut at midnights on `zone`'s clock (a team's), in UTC: a gap's idle cost is booked
    on the team's days it was spent. UTC, because two moments of one zone subtract on the wall clock:
    across a change to or from summer time, an hour too many or too few."""
    parts = []
    start = since.astimezone(UTC)
    while start < until:
        end = min(until, period_ends(start, zone)[0]).astimezone(UTC)
        parts.append((start, end))
        start = end
    return parts
