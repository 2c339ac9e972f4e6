"""The adaptive keep-alive strategy: ski rental with a learned, context-weighted gap distribution.

Keeping an idle pool warm costs `c` per second; letting it go costs one cold start `P` if a matching job
arrives later. Given the idle time `e` so far, the expected cost of staying warm until `T >= e` is

    cost(T) = c * integral_e^T S(t)/S(e) dt  +  P * (S(T) - S(H)) / S(e)

where `S(t)` is the probability that the next matching job has not arrived after `t` idle seconds, and
`H` the longest gap worth waiting for (beyond it, a job is treated as unrelated). The strategy picks
the `T` that minimises it. Because it is asked again at every step (the engine comes back before each
hourly step runs out) with a larger `e`, it uses the conditional distribution `S(t)/S(e)`: a pool that
has been idle long is released once a reuse has become unlikely, which no fixed threshold can do.

`S` is a Kaplan-Meier estimate over the pool's recent idle gaps (`Pool.history`; gaps cut short by
expiry or release are censored observations), weighted by recency and by similarity of context: the
time of day and day of week (on the team's clock, `StrategyInput.zone`: the policy's `timezone`), how
busy the pool was (idle periods begun in the half hour before, and other jobs of the key still
running, each of which will leave a newer idle cluster that the next job takes first), and the
duration of the job that ended before the gap; the team's gaps
(`Pool.team_history`) are a weaker prior, in which, for a young key (few gaps on record), the gaps of
other young keys count most: a new key's first gaps are not like an established one's. With too little
history it falls back to break-even (the deterministic 2-competitive ski-rental threshold). At a
time of day when, on several other days, every gap lasted hours (`quiet_time`: the end of the
working day), the pool is released at once; and a past reuse that, counted from now, would come
later than any job came back on the last few days of the kind (`_workday_end`) counts as no reuse: that
job would not come today. The pool is kept only when keeping beats releasing by
more than the noise of that estimate (`Saving.clear_of_noise`: two standard errors over the gaps it learns
from; one, once an earlier decision of this idle period kept it, since fewer and fewer gaps are left
to judge by as the idle time grows); otherwise it is released.

Pure Python, O(n log n) in the history length (64 gaps at most: one DynamoDB item), about a millisecond
per decision on gaps read fresh from the registry (`make bench`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import tzinfo
from typing import NamedTuple

from warmpool.domain.model import IdleGap, Pool
from warmpool.domain.strategies import (
    Explained,
    Proposal,
    StrategyInput,
    duration_text,
    free_idle_proposal,
    register,
)

MIN_EFFECTIVE_SAMPLES = 1.0
TEAM_PRIOR_WEIGHT = 0.25
RECENCY_HALF_LIFE = 32  # gaps
HOUR_BANDWIDTH = 12.0  # hours: wide; a narrow kernel overfits sparse histories (bench)
DENSITY_WINDOW_S = 1800.0  # "how busy was the pool": idle periods that began in the half hour before
DENSITY_WEIGHT = 0.5  # how much a gap from a busier or quieter moment counts less (bench: HPO sweeps)
DURATION_WEIGHT = 0.5  # how much a gap after a much longer or shorter job counts less
RUNNING_WEIGHT = 0.7  # how much a gap begun with another number of jobs running (0, 1, 2+) counts less
RUNNING_CAP = 2
YOUNG_GAPS = 4  # a key with fewer gaps on record is young: its first reuses are still unknown
YOUNG_WEIGHT = 0.8  # for a young key, how much less a team gap from an established key counts
WORKDAY_MIN_DAYS = 3  # the end of the working day is learned from three past days of the kind or more...
WORKDAY_LATEST_END = 22 * 60  # ...on most of which the last job came by 22:00 (else: work round the clock)
MAX_GAP_SECONDS = 24 * 3600  # longer gaps are treated as "no reuse"
QUIET_WINDOW_MINUTES = 15  # quiet time: gaps begun within a quarter of an hour of this time of day...
QUIET_MIN_DAYS = 3  # ...on at least three other days...
QUIET_GAP_SECONDS = 4 * 3600  # ...and every one at least four hours long (bench: 2-8 h, 2-4 days alike)
CONFIDENCE_Z = 2.0  # keep only when keeping is cheaper than releasing by two standard errors (bench)
CONFIDENCE_Z_KEPT = 1.0  # once kept, by one: fewer gaps are left to judge by as the idle time grows (bench)
MARGIN_FACTOR = 1.1  # the next gap is rarely exactly an observed one: keep 10 % past it...
MARGIN_SECONDS = 30.0  # ...plus 30 s...
MARGIN_BREAK_EVEN_SHARE = 0.05  # ...at most 5 % of break-even (at $0/h of people's time, 30 s is 23 %),
# and never past break-even itself (below)


class WeightedGap(NamedTuple):
    seconds: float
    reused: bool
    weight: float


def _hour_context(minutes_apart: int) -> float:
    """The time-of-day weight of a gap that began `minutes_apart` minutes (around the clock) from now."""
    hours = min(minutes_apart, 1440 - minutes_apart) / 60
    return 0.25 + 0.75 * math.exp(-0.5 * (hours / HOUR_BANDWIDTH) ** 2)


_HOUR_CONTEXT = tuple(_hour_context(m) for m in range(1440))  # by minutes apart, 0..1439
_RECENCY_KEPT = 1024  # a longer history (none is kept today) computes the weight of its older gaps
_RECENCY = tuple(0.5 ** (age / RECENCY_HALF_LIFE) for age in range(_RECENCY_KEPT))  # by age, 0 = newest


class _GapFacts(NamedTuple):
    """What weighing a gap needs from it, computed once per gap: a pool's gaps are weighed again at
    every decision of every pool of its key and team, and reading them from datetimes dominated."""

    minute: int  # of the day it began
    weekend: bool
    day: int  # date ordinal of the day it began
    stamp: float  # POSIX time it began
    log_duration: float | None  # log10(1 + seconds) of the job that ended before it, when known
    running: int | None  # other jobs of the key running when it began, capped at RUNNING_CAP
    established: bool  # the key had YOUNG_GAPS gaps or more on record then
    seconds: float  # capped at MAX_GAP_SECONDS
    reused: bool
    valid: bool  # a negative length (a clock skew) is left out
    reuse_day: int | None  # date ordinal of the day a job came back, for a reuse within MAX_GAP_SECONDS
    reuse_minute: float  # of that day
    reuse_weekend: bool  # that day is a Saturday or a Sunday


# Facts by gap identity: the simulator weighs the same gap objects thousands of times, and hashing a
# gap by value cost as much as reading it. Each entry holds its gap, so an id is never reused while
# cached; the cache is emptied when full (a Lambda decodes fresh gaps per event: it never fills).
_FACTS_KEPT = 8192
_facts_by_id: dict[int, tuple[IdleGap, tzinfo, _GapFacts]] = {}


def _read_facts(gap: IdleGap, zone: tzinfo) -> _GapFacts:
    started = gap.started_at.astimezone(zone)
    minute = started.hour * 60 + started.minute
    day = started.toordinal()
    valid = gap.seconds >= 0
    reuse_day: int | None = None
    reuse_minute = 0.0
    if valid and gap.reused and gap.seconds < MAX_GAP_SECONDS:
        days_later, reuse_minute = divmod(minute + gap.seconds / 60, 1440)
        reuse_day = day + int(days_later)
    return _GapFacts(
        minute,
        started.weekday() >= 5,
        day,
        started.timestamp(),
        math.log10(1 + gap.job_duration_s) if gap.job_duration_s else None,
        None if gap.running_jobs is None else min(gap.running_jobs, RUNNING_CAP),
        gap.known_gaps is not None and gap.known_gaps >= YOUNG_GAPS,
        min(gap.seconds, MAX_GAP_SECONDS),
        gap.reused,
        valid,
        reuse_day,
        reuse_minute,
        reuse_day is not None and (reuse_day - 1) % 7 >= 5,  # day 1 (0001-01-01) was a Monday
    )


def _facts_in(gaps: tuple[IdleGap, ...], zone: tzinfo) -> list[_GapFacts]:
    get = _facts_by_id.get
    return [
        hit[2] if (hit := get(id(gap))) and hit[0] is gap and hit[1] is zone else _remember(gap, zone)
        for gap in gaps
    ]


def _remember(gap: IdleGap, zone: tzinfo) -> _GapFacts:
    if len(_facts_by_id) >= _FACTS_KEPT:
        _facts_by_id.clear()
    facts = _read_facts(gap, zone)
    _facts_by_id[id(gap)] = (gap, zone, facts)
    return facts


def _facts_of(data: StrategyInput) -> tuple[list[_GapFacts], list[_GapFacts]]:
    return _facts_in(data.pool.history, data.zone), _facts_in(data.pool.team_history, data.zone)


def _workday_end(facts: list[_GapFacts], today: int, weekend: bool) -> float | None:
    """The latest minute of the day at which a job came back on a past day of the same kind (weekday
    or weekend), when the pool and its team have WORKDAY_MIN_DAYS such days and on most of them the
    last job came by WORKDAY_LATEST_END: the end of their working day. None for work round the clock."""
    last: dict[int, float] = {}  # by day: the minute of the day of its last reuse
    for f in facts:
        day = f.reuse_day
        if day is None or day > today or f.reuse_weekend != weekend:
            continue
        if f.reuse_minute > last.get(day, -1.0):
            last[day] = f.reuse_minute
    so_far = last.pop(today, 0.0)  # today goes on at least this late
    ends = sorted(last.values())
    if len(ends) < WORKDAY_MIN_DAYS or ends[len(ends) // 2] > WORKDAY_LATEST_END:
        return None
    return max(ends[-1], so_far)


def weighted_gaps(
    data: StrategyInput, facts: tuple[list[_GapFacts], list[_GapFacts]] | None = None
) -> list[WeightedGap]:
    pool = data.pool
    anchor = (pool.available_since or data.now).astimezone(data.zone)
    minute_now = anchor.hour * 60 + anchor.minute
    weekend = anchor.weekday() >= 5
    own, team = facts or _facts_of(data)
    # Density: how many of the pool's idle periods began in the half hour before a moment (a sweep in
    # progress, a burst of experiments), on a log scale, for the gap and for now. A gap's weight for it
    # depends only on that count: computed once per count.
    starts = sorted(f.stamp for f in own)
    bisect_left = bisect.bisect_left
    at_now = anchor.timestamp() + 0.001
    busy_now = math.log2(1 + bisect_left(starts, at_now) - bisect_left(starts, at_now - DENSITY_WINDOW_S))
    density: dict[int, float] = {}
    duration_now = pool.last_job_duration_s
    log_duration_now = math.log10(1 + duration_now) if duration_now else None
    running_now = None if pool.running_at_idle is None else min(pool.running_at_idle, RUNNING_CAP)
    young_now = len(own) < YOUNG_GAPS
    workday_end = _workday_end([*own, *team], anchor.toordinal(), weekend)
    exp = math.exp
    new = tuple.__new__
    out: list[WeightedGap] = []
    for source, scale, is_own in ((own, 1.0, True), (team, TEAM_PRIOR_WEIGHT, False)):
        n = len(source)
        for index, fact in enumerate(source):
            (
                minute,
                gap_weekend,
                _,
                stamp,
                log_duration,
                running,
                established,
                seconds,
                reused,
                valid,
                _,
                _,
                _,
            ) = fact
            if not valid:
                continue
            context = _HOUR_CONTEXT[abs(minute - minute_now)]
            if gap_weekend != weekend:
                context *= 0.5
            # Similar durations and densities: 1 for equal values, down to 1 - weight for values
            # orders of magnitude apart.
            if log_duration is not None and log_duration_now is not None:
                context *= (1.0 - DURATION_WEIGHT) + DURATION_WEIGHT * exp(
                    -abs(log_duration - log_duration_now)
                )
            if is_own:
                busy = bisect_left(starts, stamp) - bisect_left(starts, stamp - DENSITY_WINDOW_S)
                similar = density.get(busy)
                if similar is None:
                    similar = (1.0 - DENSITY_WEIGHT) + DENSITY_WEIGHT * exp(
                        -abs(math.log2(1 + busy) - busy_now)
                    )
                    density[busy] = similar
                context *= similar
            elif young_now and established:
                context *= 1.0 - YOUNG_WEIGHT
            if running is not None and running_now is not None and running != running_now:
                context *= 1.0 - RUNNING_WEIGHT
            age = n - 1 - index  # 0: the most recent gap
            recency = _RECENCY[age] if age < _RECENCY_KEPT else 0.5 ** (age / RECENCY_HALF_LIFE)
            if workday_end is not None and reused and minute_now + seconds / 60 > workday_end:
                # that job would come after the working day ends: today, it would not come at all
                seconds, reused = MAX_GAP_SECONDS, False
            out.append(new(WeightedGap, (seconds, reused, scale * recency * context)))
    return out


def quiet_time(data: StrategyInput, facts: tuple[list[_GapFacts], list[_GapFacts]] | None = None) -> bool:
    """Whether the pool went idle at a time of day when it goes quiet: on other days (of the same kind,
    weekday or weekend), on at least QUIET_MIN_DAYS of them some of its own or its team's gaps began
    within QUIET_WINDOW_MINUTES of this time of day, and every one of them lasted QUIET_GAP_SECONDS or
    more. That is the end of a working day, learned: the weighted curve cannot see it, because its
    time-of-day kernel has to be wide (a narrow one overfits sparse histories), while this rule asks
    for unanimous evidence from several days. Days, not gaps: the registry keeps each of the pool's
    gaps in its team's history too, and several pools of a team go idle on one evening; counted as
    gaps, two evenings (or one) passed for the "3 or more other days" the decision's reason says. One
    quick reuse at that time of day on any day, and it stays silent; a short gap cut by a release is
    no evidence either way."""
    anchor = (data.pool.available_since or data.now).astimezone(data.zone)
    minute_now = anchor.hour * 60 + anchor.minute
    today = anchor.toordinal()
    weekend = anchor.weekday() >= 5
    days: set[int] = set()
    own, team = facts or _facts_of(data)
    for minute, gap_weekend, day, _, _, _, _, seconds, reused, valid, _, _, _ in (*own, *team):
        if not valid or day == today or gap_weekend != weekend:
            continue
        apart = abs(minute_now - minute)
        if QUIET_WINDOW_MINUTES < apart < 1440 - QUIET_WINDOW_MINUTES:
            continue  # more than the window apart, around the clock
        if seconds < QUIET_GAP_SECONDS:
            if reused:
                return False  # a job came back soon at this time of day
            continue  # cut short by a release: how long it would have lasted is unknown
        days.add(day)
    return len(days) >= QUIET_MIN_DAYS


def survival_curve(gaps: list[WeightedGap]) -> list[tuple[float, float]]:
    """Weighted Kaplan-Meier: [(t, S(t))] just after each reuse time t, ascending."""
    leaving: dict[float, float] = {}  # weight of the gaps that end at t, reused or not
    events: dict[float, float] = {}  # weight of the reuses at t
    leaving_at, events_at = leaving.get, events.get
    for seconds, reused, weight in gaps:
        leaving[seconds] = leaving_at(seconds, 0.0) + weight
        if reused and seconds < MAX_GAP_SECONDS:
            events[seconds] = events_at(seconds, 0.0) + weight
    at_risk = sum(leaving.values())
    survival = 1.0
    curve: list[tuple[float, float]] = []
    for t in sorted(leaving):
        reuses = events.get(t, 0.0)
        if reuses > 0 and at_risk > 0:
            survival *= 1.0 - reuses / at_risk
            curve.append((t, survival))
        at_risk -= leaving[t]
    return curve


def survival_at(curve: list[tuple[float, float]], t: float) -> float:
    value = 1.0
    for time, s in curve:
        if time > t:
            break
        value = s
    return value


def best_horizon(curve: list[tuple[float, float]], elapsed: float, idle_cost: float, penalty: float) -> float:
    """argmin over T >= elapsed of the expected cost; candidates are `elapsed` and the reuse times."""
    s_e = survival_at(curve, elapsed)
    if s_e <= 1e-9:
        return elapsed
    s_h = curve[-1][1] if curve else 1.0  # no reuse beyond the last observed one
    best_t, best_cost = elapsed, penalty * (s_e - s_h) / s_e
    integral = 0.0
    previous_t, previous_s = elapsed, s_e
    for t, s in curve:
        if t <= elapsed:
            continue
        integral += previous_s * (t - previous_t)  # S is flat between reuse times
        cost = idle_cost * integral / s_e + penalty * (s - s_h) / s_e
        if cost < best_cost:
            best_t, best_cost = t, cost
        previous_t, previous_s = t, s
    return best_t


class Saving(NamedTuple):
    """What keeping until a horizon saves against releasing now, over the past gaps still open."""

    mean: float  # USD, weighted mean over the gaps: > 0 when keeping is cheaper
    error: float  # USD, the standard error of that mean
    gaps: float  # the effective number of weighted gaps it is measured on

    def clear_of_noise(self, z: float) -> bool:
        """Whether keeping beats releasing now by more than the noise of the estimate: the horizon is
        the argmin of a curve estimated from a few dozen weighted gaps, and with many candidate
        horizons the one that looks cheapest is often the one the noise favours, so a pool that is
        rarely reused would be kept "just in case" gap after gap. Kept only when the mean saving
        exceeds `z` standard errors (over the effective number of weighted gaps)."""
        return self.mean - z * self.error > 0


def saving(
    gaps: list[WeightedGap], elapsed: float, horizon: float, idle: float, penalty: float
) -> Saving | None:
    """Each past gap still open at `elapsed`, scored both ways (keeping: the idle time until its reuse or
    the horizon, plus a cold start if the job came later; releasing: a cold start if a job came at all;
    a gap never reused counts as idle until the horizon). None when fewer than two gaps' worth of
    weight is left: one gap says nothing of the spread."""
    diffs: list[float] = []
    weights: list[float] = []
    for seconds, reused, weight in gaps:
        if seconds <= elapsed or weight <= 0:
            continue
        if reused and seconds < MAX_GAP_SECONDS:
            keep = idle * ((seconds if seconds < horizon else horizon) - elapsed) + (
                penalty if seconds > horizon else 0.0
            )
            diffs.append(keep - penalty)  # releasing costs the cold start
        else:
            diffs.append(idle * (horizon - elapsed))  # releasing costs nothing
        weights.append(weight)
    total = sum(weights)
    if total <= 0:
        return None
    n_eff = total**2 / sum([w * w for w in weights])
    if n_eff <= 1.0 + 1e-9:
        return None
    mean = sum([d * w for d, w in zip(diffs, weights, strict=True)]) / total
    var = (
        sum([w * (d - mean) ** 2 for d, w in zip(diffs, weights, strict=True)]) / total * n_eff / (n_eff - 1)
    )
    return Saving(-mean, math.sqrt(var / n_eff), n_eff)


def kept_already(pool: Pool) -> bool:
    """Whether an earlier decision of this idle period wanted the pool warm past the moment it went
    idle (the engine records that wish as `horizon_at`, also for a dry run)."""
    since = pool.available_since
    return since is not None and pool.horizon_at is not None and pool.horizon_at > since


@register("adaptive")
@dataclass(frozen=True, slots=True)
class AdaptiveStrategy(Explained):
    name: str = "adaptive"

    def propose(self, data: StrategyInput) -> Proposal:
        cost = data.cost
        if cost.idle_cost_per_second <= 0:
            return free_idle_proposal(cost)
        facts = _facts_of(data)
        gaps = weighted_gaps(data, facts)
        effective = sum(g.weight for g in gaps)
        # reuses as recorded: one that would have come after the working day's end still says the
        # history is not thin (with none left in the curve, the pool is released, not kept to break-even)
        reused = any(f.reused and f.valid for source in facts for f in source)
        seen = _on_record(facts)
        if effective < MIN_EFFECTIVE_SAMPLES or not reused:  # thin: the ski-rental threshold
            threshold = cost.break_even_seconds
            why = f"no reuse among the {seen}" if seen else "no idle gap of this shape or its team on record"
            return Proposal(
                int(threshold),
                f"{why} yet: kept as long as idling costs what one cold start does (break-even)",
            )
        pool = data.pool
        elapsed = max(0.0, (data.now - pool.available_since).total_seconds()) if pool.available_since else 0.0
        if quiet_time(data, facts):
            anchor = (pool.available_since or data.now).astimezone(data.zone)
            return Proposal(
                int(elapsed),
                f"at this time of day ({anchor:%H:%M}), no job came back within "
                f"{QUIET_GAP_SECONDS // 3600} h on {QUIET_MIN_DAYS} or more other days",
            )
        curve = survival_curve(gaps)
        horizon = best_horizon(curve, elapsed, cost.idle_cost_per_second, cost.cold_start_penalty)
        idle_for = duration_text(elapsed) if elapsed >= 60 else ""
        still = f" still idle after {idle_for}" if idle_for else ""
        if horizon <= elapsed:
            now = f" after {idle_for} idle" if idle_for else ""
            return Proposal(int(horizon), f"no reuse likely enough to pay for waiting{now} (of the {seen})")
        z = CONFIDENCE_Z_KEPT if kept_already(pool) else CONFIDENCE_Z
        found = saving(gaps, elapsed, horizon, cost.idle_cost_per_second, cost.cold_start_penalty)
        longer = duration_text(horizon - elapsed)
        if found is None:
            return Proposal(int(elapsed), f"too few gaps like this one{still} to judge by (of the {seen})")
        if found.mean <= 0:
            return Proposal(
                int(elapsed),
                f"keeping it {longer} more would have cost more than the cold starts it saved, on "
                f"average over the gaps like this one{still} ({found.gaps:.0f} weighted, of the {seen})",
            )
        if not found.clear_of_noise(z):
            return Proposal(
                int(elapsed),
                f"keeping it {longer} more would save ${found.mean:.2f} on average over the gaps like this "
                f"one{still} ({found.gaps:.0f} weighted, of the {seen}), within the noise: kept only for a "
                f"saving above {z:g} standard errors (${z * found.error:.2f})",
            )
        s_e = survival_at(curve, elapsed)
        chance = 1.0 - survival_at(curve, horizon) / s_e if s_e > 0 else 0.0
        # The next gap is rarely exactly an observed one: keep a margin past it, but not past break-even
        # (bench: one that took a horizon just short of break-even past it idled on every cluster not
        # reused, at $0/h of people's time most of all).
        margin = min(MARGIN_SECONDS, MARGIN_BREAK_EVEN_SHARE * cost.break_even_seconds)
        kept = int(min(horizon * MARGIN_FACTOR + margin, max(horizon, cost.break_even_seconds)))
        return Proposal(
            kept,
            f"a job of this shape came within {longer} in {chance:.0%} of the gaps like this one{still} "
            f"({found.gaps:.0f} weighted, of the {seen}): keeping it saves ${found.mean:.2f} ± "
            f"${found.error:.2f} on average against releasing now",
        )


def _on_record(facts: tuple[list[_GapFacts], list[_GapFacts]]) -> str:
    """ "12 idle gaps of this shape and 40 of its team": what the decision learned from."""
    own, team = len(facts[0]), len(facts[1])
    if not own and not team:
        return ""
    mine = f"{own} idle gap{'' if own == 1 else 's'} of this shape"
    return f"{mine} and {team} of its team" if team else mine
