"""Where a team's budget days and months begin and end, on its own clock."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from warmpool.domain.clock import days_of, period_ends, period_starts

LA = ZoneInfo("America/Los_Angeles")


def hours_by_day(
    parts: list[tuple[datetime, datetime]], zone: ZoneInfo | None = None
) -> list[tuple[str, float]]:
    return [(s.astimezone(zone or UTC).date().isoformat(), (e - s).total_seconds() / 3600) for s, e in parts]


def test_a_gap_is_cut_at_the_teams_midnight() -> None:
    # 15:00 to 02:00 in Los Angeles: two of its days, though all of it but an hour is one UTC day
    since = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)
    until = since + timedelta(hours=11)
    assert hours_by_day(days_of(since, until, LA), LA) == [("2026-01-05", 9.0), ("2026-01-06", 2.0)]
    assert hours_by_day(days_of(since, until)) == [("2026-01-05", 1.0), ("2026-01-06", 10.0)]


def test_a_day_the_clocks_go_forward_is_23_hours_long() -> None:
    # Los Angeles springs forward on Sunday 2026-03-08 (00:00 PST is 08:00 UTC): its day has 23 hours
    since = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    parts = days_of(since, since + timedelta(hours=30), LA)
    assert hours_by_day(parts, LA) == [("2026-03-08", 23.0), ("2026-03-09", 7.0)]
    day_end, month_end = period_ends(datetime(2026, 3, 8, 12, 0, tzinfo=UTC), LA)
    assert day_end == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # midnight PDT
    assert month_end == datetime(2026, 4, 1, 7, 0, tzinfo=UTC)


def test_the_day_and_month_a_moment_belongs_to_follow_the_teams_clock() -> None:
    # 03:00 UTC on 1 February is still 31 January, 19:00, in Los Angeles
    now = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
    assert period_starts(now, LA) == (
        datetime(2026, 1, 31, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
    )
    assert period_ends(now, LA) == (
        datetime(2026, 2, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 2, 1, 8, 0, tzinfo=UTC),
    )
    assert period_starts(now) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert period_ends(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))[1] == datetime(2027, 1, 1, tzinfo=UTC)
