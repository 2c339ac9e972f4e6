"""The adaptive keep-alive strategy: what it decides for histories whose right answer is known."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from warmpool.domain.adaptive import (
    AdaptiveStrategy,
    WeightedGap,
    best_horizon,
    quiet_time,
    survival_at,
    survival_curve,
    weighted_gaps,
)
from warmpool.domain.decide import decide_keep_alive
from warmpool.domain.model import Action, CostModel, IdleGap, MatchKey, Pool, Trigger, WarmPoolStatus
from warmpool.domain.policy.document import PolicyDocument, Rules
from warmpool.domain.strategies import StrategyInput, get_strategy, strategy_names

MONDAY_NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
# g5.2xlarge with 100 $/h of people's time: one cold start costs as much as ~8,711 s of idling.
COST = CostModel(price_per_instance_hour=1.515, people_cost_per_hour=100.0, cold_start_s=150, warm_start_s=20)


def _gaps(seconds: list[float], reused: bool = True) -> tuple[IdleGap, ...]:
    # one gap a day at noon, oldest first: same time of day as the decision
    return tuple(
        IdleGap(MONDAY_NOON - timedelta(days=len(seconds) - i), s, reused) for i, s in enumerate(seconds)
    )


def _pool(history: tuple[IdleGap, ...] = (), team_history: tuple[IdleGap, ...] = ()) -> Pool:
    return Pool(
        pool_id="job-1",
        job_name="job-1",
        job_arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1",
        match_key=MatchKey("arn:aws:iam::123456789012:role/r", "ml.g5.2xlarge", 1, 50),
        status=WarmPoolStatus.AVAILABLE,
        team="vision",
        available_since=MONDAY_NOON,
        expires_at=MONDAY_NOON,
        lifetime_started_at=MONDAY_NOON - timedelta(hours=1),
        history=history,
        team_history=team_history,
    )


def _horizon(pool: Pool, elapsed_s: float = 0.0, cost: CostModel = COST) -> int:
    now = MONDAY_NOON + timedelta(seconds=elapsed_s)
    return AdaptiveStrategy().horizon_seconds(StrategyInput(pool=pool, cost=cost, now=now))


def test_registered_and_found_by_name() -> None:
    assert "adaptive" in strategy_names()
    assert get_strategy("adaptive").name == "adaptive"


def test_without_history_it_falls_back_to_break_even() -> None:
    assert _horizon(_pool()) == int(COST.break_even_seconds)
    # only censored gaps: no reuse was ever seen, still break-even
    assert _horizon(_pool(_gaps([600.0] * 5, reused=False))) == int(COST.break_even_seconds)


def test_bursty_pool_is_kept_just_past_its_usual_gap() -> None:
    horizon = _horizon(_pool(_gaps([240.0, 300.0, 270.0, 310.0, 290.0] * 4)))
    assert 310 <= horizon <= 400  # past the longest observed gap, far below break-even (8,711 s)


def test_when_a_cold_start_is_cheap_the_margin_past_the_usual_gap_is_small() -> None:
    # no people's time: a cold start costs 130 s of idling, so 30 s of margin would be a quarter of it
    cheap = CostModel(price_per_instance_hour=1.515, cold_start_s=150, warm_start_s=20)
    horizon = _horizon(_pool(_gaps([80.0, 90.0, 100.0, 95.0, 85.0] * 4)), cost=cheap)
    assert 110 <= horizon <= 110 + 0.05 * 130 + 1  # 10 % past the longest gap, plus 5 % of break-even


def test_pool_whose_next_job_comes_too_late_is_released_at_once() -> None:
    # every next job came after 5 hours or more: waiting costs more than the cold start it saves
    assert _horizon(_pool(_gaps([18000.0, 19000.0, 20000.0, 21000.0]))) == 0


def test_reasks_with_the_idle_time_so_far_and_releases_once_reuse_is_unlikely() -> None:
    # half the gaps are short, the other half so long that waiting for them never pays
    pool = _pool(_gaps([200.0, 20000.0] * 8))
    assert 200 <= _horizon(pool) < 600
    assert _horizon(pool, elapsed_s=3300) == 3300  # at the hourly check: nothing worth waiting for


def test_reasks_and_keeps_when_the_long_mode_is_worth_waiting_for() -> None:
    # the long mode (5,000 s) is below break-even: at the hourly check, 1,700 s more idling pays
    pool = _pool(_gaps([200.0, 5000.0] * 8))
    assert _horizon(pool, elapsed_s=3300) >= 5000


def test_a_saving_within_the_noise_of_the_history_is_not_kept_for() -> None:
    # One job in four comes back after 10 minutes, the others after 10 hours. On average, waiting 10
    # minutes saves a little (a quarter of a cold start against 10 minutes of idling each time), but
    # each gap either saves a whole cold start or wastes the wait: from 20 gaps the saving is within
    # two standard errors of nothing, and the pool is released.
    rare = _pool(_gaps([36000.0, 36000.0, 600.0, 36000.0] * 5))
    survival = survival_curve(weighted_gaps(StrategyInput(rare, COST, MONDAY_NOON)))
    assert best_horizon(survival, 0.0, COST.idle_cost_per_second, COST.cold_start_penalty) == 600.0
    assert _horizon(rare) == 0
    # one job in two: the same wait saves clearly more than the noise, and the pool is kept past it
    frequent = _pool(_gaps([36000.0, 600.0] * 10))
    assert 600 <= _horizon(frequent) <= 700


def test_once_kept_it_takes_less_evidence_to_stay_kept() -> None:
    # Half the jobs come back within minutes; of the rest, half after 5,000 s, half the next day. At the
    # hourly check only those eight long gaps are left to judge by: waiting to 5,000 s saves on average,
    # but within two standard errors. A pool that nothing has kept yet is released; one that an earlier
    # decision of this idle period kept stays kept (one standard error is enough to go on).
    pool = _pool(_gaps([200.0, 5000.0, 200.0, 36000.0] * 4))
    assert 200 <= _horizon(pool) < 600
    assert _horizon(pool, elapsed_s=3300) == 3300
    kept = replace(pool, horizon_at=MONDAY_NOON + timedelta(seconds=_horizon(pool)))
    assert _horizon(kept, elapsed_s=3300) >= 5000


FRIDAY = datetime(2026, 1, 9, tzinfo=UTC)


def _working_days(evening_reuse_at: datetime | None = None) -> tuple[IdleGap, ...]:
    """Monday to Thursday: a job back 20 minutes after each of 8 daytime gaps, then the evening's
    gap (from 18:40) lasts until the next morning."""
    gaps: list[IdleGap] = []
    for day in range(1, 5):
        start = FRIDAY - timedelta(days=day)
        gaps += [IdleGap(start + timedelta(hours=10 + h), 1200.0, True) for h in range(8)]
        gaps.append(IdleGap(start + timedelta(hours=18, minutes=40), 14 * 3600.0, True))
    if evening_reuse_at is not None:
        gaps.append(IdleGap(evening_reuse_at, 900.0, True))
    return tuple(sorted(gaps, key=lambda g: g.started_at))


def _idle_at(history: tuple[IdleGap, ...], since: datetime) -> StrategyInput:
    pool = replace(_pool(history), available_since=since, expires_at=since)
    return StrategyInput(pool=pool, cost=COST, now=since)


def test_at_the_time_of_day_the_pool_goes_quiet_it_is_released() -> None:
    history = _working_days()
    evening = _idle_at(history, FRIDAY + timedelta(hours=18, minutes=45))
    assert quiet_time(evening)
    assert AdaptiveStrategy().horizon_seconds(evening) == 0
    # in the afternoon a job comes back within 20 minutes: kept past that
    afternoon = _idle_at(history, FRIDAY + timedelta(hours=14, minutes=5))
    assert not quiet_time(afternoon)
    assert AdaptiveStrategy().horizon_seconds(afternoon) >= 1200
    # a Saturday evening is not a weekday evening: no evidence for it
    assert not quiet_time(_idle_at(history, FRIDAY + timedelta(days=1, hours=18, minutes=45)))


def test_one_quick_return_at_that_time_of_day_silences_the_quiet_time_rule() -> None:
    wednesday_evening = FRIDAY - timedelta(days=2) + timedelta(hours=18, minutes=35)
    history = _working_days(evening_reuse_at=wednesday_evening)
    assert not quiet_time(_idle_at(history, FRIDAY + timedelta(hours=18, minutes=45)))
    # evidence from today itself is not "another day": two long gaps before and one today are too few
    wednesday = (FRIDAY - timedelta(days=2)).date()
    few = tuple(g for g in _working_days() if g.started_at.date() >= wednesday)
    today = IdleGap(FRIDAY + timedelta(hours=18, minutes=30), 14 * 3600.0, True)
    assert not quiet_time(_idle_at((*few, today), FRIDAY + timedelta(hours=18, minutes=45)))
    # a release cut short at that time of day says nothing either way: three long gaps still decide
    released = IdleGap(wednesday_evening, 0.0, False)
    assert quiet_time(_idle_at((*_working_days(), released), FRIDAY + timedelta(hours=18, minutes=45)))


def test_quiet_time_counts_other_days_not_gaps() -> None:
    # The registry keeps each gap in the pool's history and in its team's, as the engine reads them:
    # two evenings of long gaps are two days, however many copies of their gaps there are.
    wednesday = (FRIDAY - timedelta(days=2)).date()
    two_days = tuple(g for g in _working_days() if g.started_at.date() >= wednesday)
    evening = FRIDAY + timedelta(hours=18, minutes=45)
    as_read = replace(_idle_at(two_days, evening).pool, team_history=two_days)
    data = StrategyInput(pool=as_read, cost=COST, now=evening)
    assert not quiet_time(data)
    assert "at this time of day" not in AdaptiveStrategy().propose(data).why
    # three pools of the team that went idle on one evening are one day of evidence, not three
    thursday_evening = FRIDAY - timedelta(days=1) + timedelta(hours=18, minutes=40)
    one_evening = tuple(IdleGap(thursday_evening + timedelta(minutes=m), 50400.0, True) for m in (0, 2, 4))
    team = replace(_idle_at((), evening).pool, team_history=one_evening)
    assert not quiet_time(StrategyInput(pool=team, cost=COST, now=evening))
    # the same evenings from the pool and its team, on three days: the evidence the rule asks for
    three_days = replace(_idle_at(_working_days(), evening).pool, team_history=_working_days())
    assert quiet_time(StrategyInput(pool=three_days, cost=COST, now=evening))


def test_free_idle_capacity_keeps_nothing_learned() -> None:
    free = CostModel(price_per_instance_hour=0.0)
    assert _horizon(_pool(_gaps([300.0] * 10)), cost=free) == 0


@pytest.mark.parametrize("strategy", ["adaptive", "counterfactual"])
@pytest.mark.parametrize("history", [(), _gaps([300.0] * 10), _gaps([30_000.0] * 10, reused=False)])
def test_free_idle_capacity_is_kept_warm_while_people_wait_for_a_cold_start(
    strategy: str, history: tuple[IdleGap, ...]
) -> None:
    # capacity paid for anyway (a price of 0): idling costs nothing and a cold start costs people's
    # time, so the pool stays warm as long as the policy allows, as break-even keeps it (the learners
    # released it at once)
    policy = PolicyDocument(
        prices={"ml.g5.2xlarge": 0.0},
        defaults=Rules(keep_alive_strategy=strategy, people_cost_per_hour=100.0, max_horizon_minutes=600),
    )
    decision = decide_keep_alive(_pool(history), policy, MONDAY_NOON + timedelta(seconds=5))
    assert (decision.action, decision.horizon_seconds) == (Action.EXTEND, 600 * 60)
    assert decision.keep_alive_seconds == 3600
    assert f"strategy {strategy} wants 672.0 h of warm time: idle time costs nothing here" in decision.reasons


def test_censored_gaps_count_as_survivors_not_as_reuses() -> None:
    reuses = [WeightedGap(100.0, True, 1.0), WeightedGap(1000.0, True, 1.0)]
    censored_early = [WeightedGap(50.0, False, 1.0)] * 2
    # a gap censored at 50 s says nothing after 50 s: at 100 s one reuse among the 2 still at risk
    curve = survival_curve(reuses + censored_early)
    assert survival_at(curve, 60.0) == pytest.approx(1.0)
    assert survival_at(curve, 100.0) == pytest.approx(0.5)
    assert survival_at(curve, 1000.0) == pytest.approx(0.0)
    # the same two gaps seen as reuses at 50 s would have been events: S(50) = 1/2, S(100) = 1/4
    as_events = survival_curve([*reuses, WeightedGap(50.0, True, 1.0), WeightedGap(50.0, True, 1.0)])
    assert survival_at(as_events, 50.0) == pytest.approx(0.5)
    assert survival_at(as_events, 100.0) == pytest.approx(0.25)


def test_best_horizon_is_the_cheaper_side_of_the_ski_rental() -> None:
    curve = survival_curve([WeightedGap(100.0, True, 1.0)] * 9 + [WeightedGap(10000.0, True, 1.0)])
    # idle 0.01 $/s, cold start 5 $: waiting 100 s (1 $) for a 90 % reuse beats releasing (4.5 $ expected)
    assert best_horizon(curve, 0.0, 0.01, 5.0) == 100.0
    # past 100 s only the 10,000 s reuse is left: 98 $ of idling against a 5 $ cold start
    assert best_horizon(curve, 200.0, 0.01, 5.0) == 200.0


def test_team_history_is_a_prior_when_the_pool_has_none() -> None:
    assert 300 <= _horizon(_pool(team_history=_gaps([300.0] * 20))) < 1000


def test_recent_and_same_time_of_day_gaps_weigh_more() -> None:
    history = (
        IdleGap(MONDAY_NOON.replace(hour=0) - timedelta(days=2), 100.0, True),  # older, at midnight
        IdleGap(MONDAY_NOON - timedelta(days=1), 100.0, True),  # the latest, at noon
    )
    weights = [g.weight for g in weighted_gaps(StrategyInput(_pool(history), COST, MONDAY_NOON))]
    assert weights[1] > weights[0]


def test_gaps_after_a_job_like_this_one_weigh_more() -> None:
    history = (
        IdleGap(MONDAY_NOON - timedelta(days=1), 100.0, True, 600.0),  # after a 10-minute job
        IdleGap(MONDAY_NOON - timedelta(days=1), 100.0, True, 36000.0),  # after a 10-hour job
    )
    pool = replace(_pool(history), last_job_duration_s=900.0)
    short, long = (g.weight for g in weighted_gaps(StrategyInput(pool, COST, MONDAY_NOON)))
    assert short > long  # although the gap after the long job is the more recent one
    unknown = replace(pool, last_job_duration_s=None)  # no duration known: only recency tells them apart
    first, second = (g.weight for g in weighted_gaps(StrategyInput(unknown, COST, MONDAY_NOON)))
    assert second > first


def test_gaps_from_a_moment_as_busy_as_now_weigh_more() -> None:
    # two days ago at noon: a burst (five idle periods within minutes); yesterday at noon: one alone
    burst = tuple(IdleGap(MONDAY_NOON - timedelta(days=2, minutes=10 - i), 60.0, True) for i in range(5))
    alone = IdleGap(MONDAY_NOON - timedelta(days=1), 60.0, True)
    today = tuple(IdleGap(MONDAY_NOON - timedelta(minutes=8 - i), 60.0, True) for i in range(4))
    busy_now = _pool((*burst, alone, *today))
    weights = [g.weight for g in weighted_gaps(StrategyInput(busy_now, COST, MONDAY_NOON))]
    assert weights[4] > weights[5]  # older, but from a moment as busy as now
    quiet_now = _pool((*burst, alone))
    weights = [g.weight for g in weighted_gaps(StrategyInput(quiet_now, COST, MONDAY_NOON))]
    assert weights[5] > weights[4]  # now is quiet: the lone gap resembles it more


def test_with_another_job_of_the_key_running_it_learns_from_gaps_begun_so() -> None:
    # Alone, the pool was reused 5 minutes later; when another job of the key was still running, that
    # job's newer cluster took the next job and this one waited hours. Each case decides by its own kind.
    alone = [IdleGap(MONDAY_NOON - timedelta(days=20 - i), 300.0, True, running_jobs=0) for i in range(10)]
    shadowed = [
        IdleGap(MONDAY_NOON - timedelta(days=10 - i), 30000.0, True, running_jobs=2) for i in range(10)
    ]
    history = tuple(alone + shadowed)
    assert 300 <= _horizon(replace(_pool(history), running_at_idle=0)) < 1000
    assert _horizon(replace(_pool(history), running_at_idle=2)) == 0
    assert _horizon(replace(_pool(history), running_at_idle=5)) == 0  # "two or more" is one context
    # the same history without the context: kept for its usual quick reuse with other jobs running too
    plain = tuple(replace(g, running_jobs=None) for g in history)
    assert _horizon(replace(_pool(plain), running_at_idle=2)) >= 300


def test_a_young_key_learns_from_the_first_gaps_of_the_teams_other_keys() -> None:
    # The team's established keys are reused within minutes; its new keys' first gaps were one-offs.
    established = [
        IdleGap(MONDAY_NOON - timedelta(hours=40 - i), 300.0, True, known_gaps=30) for i in range(30)
    ]
    first_gaps = [
        IdleGap(MONDAY_NOON - timedelta(hours=10 - i), 10000.0, False, known_gaps=i % 2) for i in range(10)
    ]
    team = tuple(established + first_gaps)
    assert _horizon(_pool(team_history=team)) == 0  # a new key: released at once
    own = _gaps([300.0] * 10)  # an established key of its own keeps its usual gap
    assert 300 <= _horizon(_pool(own, team_history=team)) < 1000
    # without the context, the established keys' quick reuses win and the new key is kept
    plain = tuple(replace(g, known_gaps=None) for g in team)
    assert _horizon(_pool(team_history=plain)) > 0


def test_in_a_sweep_the_pool_is_kept_and_after_it_released() -> None:
    # sweeps of 10 trials, 1 minute apart; the next sweep comes 10 hours after the last trial
    history: list[IdleGap] = []
    start = MONDAY_NOON - timedelta(days=3)
    for sweep in range(6):
        begin = start + timedelta(hours=11 * sweep)
        for trial in range(10):
            last = trial == 9
            history.append(IdleGap(begin + timedelta(minutes=11 * trial), 36000.0 if last else 60.0, True))
    mid_sweep = replace(_pool(tuple(history[:-1])), available_since=history[-1].started_at)
    after = _pool(tuple(history))
    mid = AdaptiveStrategy().horizon_seconds(StrategyInput(mid_sweep, COST, history[-1].started_at))
    assert 60 <= mid <= 200  # a trial is due within the minute
    assert _horizon(after, elapsed_s=600) <= 600  # ten minutes after the sweep: let it go


def test_the_engine_releases_at_the_step_check_through_the_policy() -> None:
    pool = _pool(_gaps([200.0, 20000.0] * 8)).with_changes(
        keep_alive_seconds=3600, expires_at=MONDAY_NOON + timedelta(seconds=3600)
    )
    policy = PolicyDocument(defaults=Rules(keep_alive_strategy="adaptive", people_cost_per_hour=100.0))
    decision = decide_keep_alive(
        pool, policy, MONDAY_NOON + timedelta(seconds=3300), trigger=Trigger.STEP_DUE, cost=COST
    )
    assert decision.action is Action.RELEASE
    assert decision.keep_alive_seconds == 0


def test_a_gap_is_weighed_by_its_own_values_even_when_a_freed_gap_had_its_address() -> None:
    # What the strategy reads from a gap is kept by the gap's identity (the simulator weighs the same
    # gaps thousands of times): a new gap at a freed gap's address must not inherit its values.
    for _ in range(50):
        noon = IdleGap(MONDAY_NOON - timedelta(days=1), 100.0, True)
        assert weighted_gaps(StrategyInput(_pool((noon,)), COST, MONDAY_NOON))[0].seconds == 100.0
        del noon
        midnight = IdleGap(MONDAY_NOON.replace(hour=0) - timedelta(days=1), 900.0, False)
        (gap,) = weighted_gaps(StrategyInput(_pool((midnight,)), COST, MONDAY_NOON))
        assert (gap.seconds, gap.reused) == (900.0, False)
        assert gap.weight < 0.75  # twelve hours from noon: the time-of-day weight of midnight


def test_many_distinct_gaps_are_each_weighed_by_their_own_values() -> None:
    # more gaps than the strategy keeps read: the cache empties and refills without mixing them up
    for i in range(9_000):
        gap = IdleGap(MONDAY_NOON - timedelta(days=1), float(i), True)
        assert weighted_gaps(StrategyInput(_pool((gap,)), COST, MONDAY_NOON))[0].seconds == float(i)


def _working_week(starts: list[tuple[int, int]], seconds: float) -> tuple[IdleGap, ...]:
    """The five weekdays before MONDAY_NOON: a gap of `seconds` (then a reuse) at each (hour, minute)."""
    days = [MONDAY_NOON.replace(hour=0) - timedelta(days=d) for d in range(7, 0, -1)]
    return tuple(
        IdleGap(day + timedelta(hours=h, minutes=m), seconds, True)
        for day in days
        if day.weekday() < 5
        for h, m in starts
    )


def _idle_from(history: tuple[IdleGap, ...], hour: int, minute: int) -> int:
    since = MONDAY_NOON.replace(hour=hour, minute=minute)
    pool = replace(_pool(history), available_since=since, expires_at=since)
    return AdaptiveStrategy().horizon_seconds(StrategyInput(pool=pool, cost=COST, now=since))


def test_a_reuse_that_would_come_after_the_working_day_ends_is_not_counted() -> None:
    # each weekday: jobs come back about two hours after each other from 9:00, the last at 16:57
    history = _working_week([(9, 0), (11, 0), (13, 0), (15, 0)], 7000.0)
    assert _idle_from(history, 11, 0) >= 7000  # midday: the usual two-hour wait pays
    # 16:30: a job two hours later would come at 18:26, later than on any past day: release
    assert _idle_from(history, 16, 30) == 0


def test_a_day_that_never_ends_has_no_cut() -> None:
    # round the clock, the last job of each day at 23:46: waiting across midnight still pays
    history = _working_week([(9, 0), (13, 0), (17, 0), (21, 50)], 7000.0)
    assert _idle_from(history, 22, 30) >= 7000


LOS_ANGELES = ZoneInfo("America/Los_Angeles")  # UTC-8 in January


def _in_zone(history: tuple[IdleGap, ...], zone: tzinfo) -> tuple[IdleGap, ...]:
    """The same wall-clock times in `zone`, stored in UTC as the registry stores them."""
    return tuple(replace(g, started_at=g.started_at.replace(tzinfo=zone).astimezone(UTC)) for g in history)


def test_a_team_in_another_time_zone_learns_the_end_of_its_day_on_its_own_clock() -> None:
    # the working week above, in Los Angeles: its last job of the day comes at 00:57 UTC, the next day
    history = _in_zone(_working_week([(9, 0), (11, 0), (13, 0), (15, 0)], 7000.0), LOS_ANGELES)

    def horizon(hour: int, minute: int, zone: tzinfo) -> int:
        since = MONDAY_NOON.replace(hour=hour, minute=minute, tzinfo=LOS_ANGELES).astimezone(UTC)
        pool = replace(_pool(history), available_since=since, expires_at=since)
        return AdaptiveStrategy().horizon_seconds(StrategyInput(pool=pool, cost=COST, now=since, zone=zone))

    assert horizon(11, 0, LOS_ANGELES) >= 7000
    assert horizon(16, 30, LOS_ANGELES) == 0  # as for a team on UTC's clock
    # read on UTC's clock its days never end (the last job of a UTC day comes at 23:00): kept
    assert horizon(16, 30, UTC) >= 7000


def test_a_team_in_another_time_zone_goes_quiet_on_its_own_weekdays() -> None:
    history = _in_zone(_working_days(), LOS_ANGELES)
    friday_evening = (FRIDAY + timedelta(hours=18, minutes=45)).replace(tzinfo=LOS_ANGELES).astimezone(UTC)
    assert quiet_time(replace(_idle_at(history, friday_evening), zone=LOS_ANGELES))
    # on UTC's clock it is Saturday 02:45, and no weekend evening is on record
    assert not quiet_time(_idle_at(history, friday_evening))


@pytest.mark.parametrize(
    ("team_rules", "action"),
    [
        # the working hours' time zone is the team's day: at 16:30 a job two hours later would come
        # after the day's last one, so the pool is released
        (
            {"working_hours": {"timezone": "America/Los_Angeles", "start": "08:00", "end": "19:00"}},
            Action.RELEASE,
        ),
        ({"timezone": "America/Los_Angeles"}, Action.RELEASE),
        # `timezone` says where the days are, whatever the working hours say
        (
            {
                "timezone": "UTC",
                "working_hours": {"timezone": "America/Los_Angeles", "start": "08:00", "end": "19:00"},
            },
            Action.EXTEND,
        ),
        ({}, Action.EXTEND),  # neither: UTC
    ],
)
def test_the_policy_says_in_which_time_zone_a_team_learns(
    team_rules: dict[str, object], action: Action
) -> None:
    history = _in_zone(_working_week([(9, 0), (11, 0), (13, 0), (15, 0)], 7000.0), LOS_ANGELES)
    since = MONDAY_NOON.replace(hour=16, minute=30, tzinfo=LOS_ANGELES).astimezone(UTC)
    pool = replace(_pool(history), available_since=since, expires_at=since)
    policy = PolicyDocument.model_validate(
        {
            "defaults": {"keep_alive_strategy": "adaptive", "people_cost_per_hour": 100.0},
            "teams": {"vision": team_rules},
        }
    )
    decision = decide_keep_alive(pool, policy, since, cost=COST)
    assert decision.action is action, decision.reasons


def _why(pool: Pool, elapsed_s: float = 0.0) -> str:
    """The strategy's reason, as the decision (and so Slack, the audit trail, `policy explain`) says it."""
    policy = PolicyDocument(defaults=Rules(keep_alive_strategy="adaptive", people_cost_per_hour=100.0))
    decision = decide_keep_alive(pool, policy, MONDAY_NOON + timedelta(seconds=elapsed_s))
    return next(r for r in decision.reasons if r.startswith("strategy adaptive wants"))


def test_each_decision_says_what_the_history_showed() -> None:
    assert _why(_pool()) == (
        "strategy adaptive wants 2.4 h of warm time: no idle gap of this shape or its team on record "
        "yet: kept as long as idling costs what one cold start does (break-even)"
    )
    never = _pool(_gaps([30000.0] * 10, reused=False))
    assert "no reuse among the 10 idle gaps of this shape yet" in _why(never)
    bursty = _pool(_gaps([300.0] * 10), team_history=_gaps([300.0] * 30))
    assert _why(bursty) == (
        "strategy adaptive wants 6 min of warm time: a job of this shape came within 5 min in 100% of the "
        "gaps like this one (22 weighted, of the 10 idle gaps of this shape and 30 of its team): keeping "
        "it saves $3.54 ± $0.00 on average against releasing now"
    )
    assert _why(bursty, elapsed_s=900) == (
        "strategy adaptive wants 15 min of warm time: no reuse likely enough to pay for waiting after 15 "
        "min idle (of the 10 idle gaps of this shape and 30 of its team)"
    )
    rare = _pool(_gaps([36000.0, 36000.0, 600.0, 36000.0] * 5))
    assert _why(rare) == (
        "strategy adaptive wants 0 min of warm time: keeping it 10 min more would save $0.72 on average "
        "over the gaps like this one (19 weighted, of the 20 idle gaps of this shape), within the noise: "
        "kept only for a saving above 2 standard errors ($0.77)"
    )


def test_a_release_at_the_quiet_time_of_day_says_so() -> None:
    evening = _idle_at(_working_days(), FRIDAY + timedelta(hours=18, minutes=45))
    assert AdaptiveStrategy().propose(evening).why == (
        "at this time of day (18:45), no job came back within 4 h on 3 or more other days"
    )
