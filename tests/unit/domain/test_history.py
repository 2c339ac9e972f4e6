from dataclasses import replace
from datetime import UTC, datetime, timedelta

from warmpool.domain.history import (
    ColdStart,
    add_once,
    retract_cold_start,
    uncensor,
    uncensor_latest,
    undo_uncensor,
)
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


def test_the_latest_released_pool_is_found_wherever_the_history_holds_it() -> None:
    # gaps are recorded as they end, not as they began: the latest to begin may come first; of two
    # that began together, the one recorded later answers; one still warm or reused answers for none
    gaps = [
        IdleGap(at(8), 60, False, job_name="latest"),
        IdleGap(at(2), 60, False, job_name="older"),
        IdleGap(at(9), 50 * 60, False, job_name="still warm"),
        IdleGap(at(10), 60, True, job_name="reused"),
    ]
    assert uncensor_latest(gaps, at(30))
    assert [(g.job_name, g.reused) for g in gaps] == [
        ("latest", True),
        ("older", False),
        ("still warm", False),
        ("reused", True),
    ]
    assert gaps[0].seconds == 22 * 60
    tied = [IdleGap(at(4), 60, False, job_name="first"), IdleGap(at(4), 60, False, job_name="second")]
    assert uncensor_latest(tied, at(30))
    assert [g.reused for g in tied] == [False, True]
    assert uncensor_latest(tied, at(31))
    assert [g.reused for g in tied] == [True, True]


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


def test_a_gap_is_held_once_and_the_one_on_record_stays() -> None:
    released = IdleGap(at(0), 60, False, job_name="a-1")
    gaps = [released]
    assert uncensor_latest(gaps, at(30))  # a cold start since: a-1's pool would have been taken at 30
    assert not add_once(gaps, released)  # a-1's expiry processed again after a failure
    assert gaps == [IdleGap(at(0), 30 * 60, True, job_name="a-1")]
    assert add_once(gaps, IdleGap(at(40), 60, False, job_name="a-2"))
    assert [g.job_name for g in gaps] == ["a-1", "a-2"]


def test_gaps_recorded_before_they_had_an_identity_are_appended_as_they_come() -> None:
    # two trials handed over at the same instant leave equal gaps: equality is no identity
    gaps = [IdleGap(at(0), 60, True)]
    assert add_once(gaps, IdleGap(at(0), 60, True))
    assert len(gaps) == 2


def test_undoing_a_cold_start_puts_back_the_gap_of_the_same_job_only() -> None:
    # two pools went idle at the same instant after jobs of the same duration: only the job tells which
    # of them the cold start uncensored
    first = IdleGap(at(0), 60, False, 900.0, job_name="t-1")
    second = IdleGap(at(0), 60, False, 900.0, job_name="t-2")
    gaps = [first, second]
    assert uncensor(gaps, at(30)) == second
    assert uncensor(gaps, at(30)) == first
    assert undo_uncensor(gaps, second, at(30))
    assert gaps == [replace(first, seconds=30 * 60, reused=True), second]


def test_a_cold_start_taken_back_lets_the_later_ones_answer_as_if_it_never_came() -> None:
    # b-1 was taken as a cold start at minute 30 (it had taken a warm pool), c-1 started cold at 40. In
    # order, c-1 answers for the latest released pool, a-2's; as the events came, it answered for a-1's.
    a1 = IdleGap(at(0), 60, False, job_name="a-1")
    a2 = IdleGap(at(5), 60, False, job_name="a-2")
    gaps = [a1, a2]
    b1 = ColdStart("b-1", at(30), uncensor(gaps, at(30)))
    c1 = ColdStart("c-1", at(40), uncensor(gaps, at(40)))
    assert (b1.gap, c1.gap) == (a2, a1)

    assert retract_cold_start(gaps, [b1, c1], "b-1") == (True, [ColdStart("c-1", at(40), a2)])
    assert gaps == [a1, replace(a2, seconds=35 * 60, reused=True)]
    assert retract_cold_start(gaps, [replace(b1, gap=None), c1], "b-1") == (False, [])  # done already


def test_a_later_cold_start_that_found_no_gap_answers_for_the_one_put_back() -> None:
    # b-1 took the only released gap, wrongly; c-1 started cold at 40 and found none. In order, c-1
    # would have answered for a-1's gap; a cold start undone already answers for nothing.
    a1 = IdleGap(at(0), 60, False, job_name="a-1")
    gaps = [a1]
    b1 = ColdStart("b-1", at(30), uncensor(gaps, at(30)))
    c1 = ColdStart("c-1", at(40), uncensor(gaps, at(40)))
    d1 = ColdStart("d-1", at(45), None, undone=True)
    assert c1.gap is None

    assert retract_cold_start(gaps, [b1, c1, d1], "b-1") == (True, [ColdStart("c-1", at(40), a1)])
    assert gaps == [replace(a1, seconds=40 * 60, reused=True)]
    assert retract_cold_start(gaps, [replace(b1, undone=True), c1], "b-1") == (False, [])
