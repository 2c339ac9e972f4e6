"""Time is injected: the logic never reads the wall clock itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


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


def period_ends(now: datetime) -> tuple[datetime, datetime]:
    """The next UTC midnight and the start of the next UTC month: where a budget's day and month end."""
    utc = now.astimezone(UTC)
    day_end = datetime(utc.year, utc.month, utc.day, tzinfo=UTC) + timedelta(days=1)
    month_end = datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=UTC)
    return day_end, month_end


def utc_days(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until) cut at UTC midnights: a gap's idle cost is booked on the days it was spent."""
    parts = []
    start = since.astimezone(UTC)
    while start < until:
        midnight = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)
        end = min(until, midnight)
        parts.append((start, end))
        start = end
    return parts
