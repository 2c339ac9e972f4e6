from datetime import UTC, datetime, timedelta

from warmpool.domain.history import uncensor, uncensor_latest, undo_uncensor
from warmpool.domain.model import IdleGap

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_cold_start_uncensors_the_latest_released_pool() -> None:
    gaps = [IdleGap(at(0), 600, False), IdleGap(at(5), 300, False), IdleGap(at(1), 60, True)]
    assert uncensor_latest(gaps, at(30))
    assert gaps == [IdleGap(at(0), 600, False), IdleGap(at(5), 25 * 60, True), IdleGap(at(1), 60, True)]


def test_a_burst_of_cold_starts_answers_for_as_many_released_pools() -> None:
    gaps = [IdleGap(at(0), 600, False), IdleGap(at(5), 300, False)]
    assert uncensor_latest(gaps, at(30))
    assert uncensor_latest(gaps, at(31))
    assert [(g.seconds, g.reused) for g in gaps] == [(31 * 60, True), (25 * 60, True)]
    assert not uncensor_latest(gaps, at(32))  # nothing left to answer for


def test_a_pool_still_warm_at_the_cold_start_is_not_uncensored() -> None:
    # released at minute 20 (censored at 20 min): a cold start at minute 10 says nothing about it
    gaps = [IdleGap(at(0), 20 * 60, False)]
    assert not uncensor_latest(gaps, at(10))
    assert gaps == [IdleGap(at(0), 20 * 60, False)]


def test_an_uncensored_gap_keeps_its_job_but_not_the_counts_the_guess_favours() -> None:
    # Which released pool a cold start answers for is a guess (the latest), and the latest tends to be
    # the one with no other job running: keeping those counts would teach the learner the guess's bias.
    gaps = [IdleGap(at(0), 60, False, 900.0, running_jobs=0, known_gaps=5)]
    assert uncensor_latest(gaps, at(30))
    assert gaps == [IdleGap(at(0), 30 * 60, True, 900.0, None, None)]


def test_undoing_a_cold_start_puts_back_the_gap_it_uncensored_as_it_was() -> None:
    released = IdleGap(at(0), 60, False, 900.0, running_jobs=0, known_gaps=5)
    gaps = [released, IdleGap(at(1), 120, True)]
    original = uncensor(gaps, at(30))
    assert original == released
    assert not undo_uncensor(gaps, released, at(31))  # another cold start's: not this one
    assert undo_uncensor(gaps, released, at(30))
    assert gaps == [released, IdleGap(at(1), 120, True)]
    assert not undo_uncensor(gaps, released, at(30))  # nothing left to undo
