"""The best ANY online keep-alive policy can do on a pool that one scientist of the experiment-team
trace uses alone: a bound on the bench target that no learner, however clever, gets under.

For such a pool, the gap after a job is that person's think time, drawn afresh each time, unless the
working day ends first (then the next job comes the next working day). While the cluster is idle, an
online policy learns nothing new but "no job yet", and what it knew when the cluster went idle bears on
the gap only through the time of day. So the best online policy knows the true distribution and keeps
each cluster for a fixed time per time of day; nothing online does better. We draw many working days of
the generator itself, pick the cheapest keep-alive per 10-minute slot of the day, and score it:

- in sample (on the days it was picked on): the expected minimum is below the true minimum, so this is
  a lower estimate of what that best policy costs;
- out of sample (on fresh days): what it actually costs, slot-discretisation and all.

Both against the clairvoyant oracle on the same days, in the simulator's model (docs/simulator.md):
a gap of `g` seconds costs `g` of idling when the cluster is still warm, else the keep-alive's idling
plus a cold start; the oracle pays the cheaper of idling `g` and a cold start.

The team's other pool is shared by two scientists, whose jobs take each other's idle clusters: there
the best online policy is not a fixed keep-alive per time of day, so this gives no bound for it, only
what the best such keep-alive (per hour, and per whether the other scientist's job is running) reaches
when fitted on many days and scored on fresh ones (`simulator.bounds`: the simulator's model). With
dana's bound, that estimates the best the whole team's trace allows.

`python -m bench.online_bound` prints the table; `make bench` prints it too.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise

from warmpool.domain.model import CostModel
from warmpool.domain.pricing import price_per_hour
from warmpool.simulator.bounds import fit_thresholds, replay_thresholds
from warmpool.simulator.replay import Scenario, oracle
from warmpool.simulator.synthetic import experiment_team
from warmpool.simulator.trace import TraceJob

SLOT_S = 600  # the time of day, in 10-minute slots
DAY_S = 86400
FIT_DAYS = 4000
TEST_DAYS = 4000
SCENARIOS = {  # the bench's three scenarios
    "g5.2xl people $0/h": ("ml.g5.2xlarge", 0.0),
    "g5.2xl people $100/h": ("ml.g5.2xlarge", 100.0),
    "p4d.24xl people $100/h": ("ml.p4d.24xlarge", 100.0),
}
SCIENTISTS = {  # who, and the instances of their pool
    "dana (2 instances, her own pool)": ("dana", 2),
    "alice (1 instance, as her own pool)": ("alice", 1),
}
DANA = "dana (2 instances, her own pool)"
SHARED_POOL = "vision-g5"  # alice's and bob's, 1 instance
SHARED = "alice + bob (1 instance, shared)"
SHARED_DAYS = 300  # the threshold fit replays the trace 32 times per hour of the day (16 keep-alives x 2)
TEAM = "the team's two pools together"


@dataclass(frozen=True, slots=True)
class Gap:
    slot: int  # the 10-minute slot of the day the cluster went idle in
    seconds: float  # until the person's next job (over a night or a weekend when the day is over)


def solo_gaps(rows: Iterable[dict[str, object]], user: str) -> list[Gap]:
    """The idle gaps of one person's own pool: from each job's end to their next job's submission."""
    jobs = sorted(
        (float(str(r["submit_time_s"])), float(str(r["duration_s"]))) for r in rows if r["user"] == user
    )
    gaps = []
    for (submit, duration), (following, _) in pairwise(jobs):
        ended = submit + duration
        gaps.append(Gap(int(ended % DAY_S) // SLOT_S, max(0.0, following - ended)))
    return gaps


def gap_cost(seconds: float, keep_alive: float, idle_cost: float, penalty: float) -> float:
    """One gap in the simulator's model: warm if the job comes within the keep-alive, cold otherwise."""
    return idle_cost * seconds if seconds <= keep_alive else idle_cost * keep_alive + penalty


def best_keep_alive(gaps: Sequence[float], idle_cost: float, penalty: float) -> float:
    """The keep-alive that makes these gaps cheapest (0, or one of the gaps themselves: the cost is
    increasing between two gaps). O(n log n)."""
    ordered = sorted(gaps)
    sums = [0.0, *accumulate(ordered)]
    best, best_cost = 0.0, len(ordered) * penalty
    for seconds in ordered:
        if math.isinf(seconds):
            break
        kept = bisect_right(ordered, seconds)  # gaps at most this long are warm starts
        cost = idle_cost * sums[kept] + (len(ordered) - kept) * (idle_cost * seconds + penalty)
        if cost < best_cost:
            best, best_cost = seconds, cost
    return best


@dataclass(frozen=True, slots=True)
class OnlineBound:
    in_sample: float  # ratio to the oracle on the days the keep-alives were picked on
    held_out: float  # ratio to the oracle on fresh days
    one_keep_alive: float  # the best single keep-alive for every slot, held out: what the time buys
    oracle_usd: float = 0.0  # the oracle's cost on the fresh days


def online_bound(fit: Sequence[Gap], test: Sequence[Gap], cost: CostModel) -> OnlineBound:
    c, p = cost.idle_cost_per_second, cost.cold_start_penalty
    by_slot: dict[int, list[float]] = defaultdict(list)
    for gap in fit:
        by_slot[gap.slot].append(gap.seconds)
    fallback = best_keep_alive([g.seconds for g in fit], c, p)
    keep = {slot: best_keep_alive(seconds, c, p) for slot, seconds in by_slot.items()}

    def oracle_usd(gaps: Sequence[Gap]) -> float:
        return sum(min(c * g.seconds, p) for g in gaps)

    def ratio(gaps: Sequence[Gap], keep_alive: dict[int, float]) -> float:
        total = sum(gap_cost(g.seconds, keep_alive.get(g.slot, fallback), c, p) for g in gaps)
        return total / oracle_usd(gaps)

    return OnlineBound(ratio(fit, keep), ratio(test, keep), ratio(test, {}), oracle_usd(test))


def pool_jobs(rows: Iterable[dict[str, object]], pool: str) -> list[TraceJob]:
    jobs = [
        TraceJob(float(str(r["submit_time_s"])), float(str(r["duration_s"])), pool, str(r["user"]))
        for r in rows
        if r["pool"] == pool
    ]
    return sorted(jobs, key=lambda j: j.submit_s)


def hour_and_others_running(jobs: Sequence[TraceJob]) -> list[tuple[int, bool]]:
    """Each job end's context: its hour of the day, and whether another job of the pool is running
    (`jobs` in submit order; two scientists' jobs overlap only their near neighbours)."""
    out = []
    for i, job in enumerate(jobs):
        ended = job.submit_s + job.duration_s
        near = jobs[max(0, i - 8) : i + 8]
        others = any(o is not job and o.submit_s <= ended < o.submit_s + o.duration_s for o in near)
        out.append((int(ended % DAY_S) // 3600, others))
    return out


def shared_pool(fit: Sequence[TraceJob], test: Sequence[TraceJob], scenario: Scenario) -> OnlineBound:
    """The best keep-alive per hour of the day and per whether another job of the pool is running,
    fitted on `fit` and scored on `test` (and the best single keep-alive, held out)."""
    fit_contexts, test_contexts = hour_and_others_running(fit), hour_and_others_running(test)
    bound = fit_thresholds(fit, scenario, fit_contexts)
    default = bound.fleet_keep_alive
    fit_oracle, test_oracle = oracle(fit, scenario).total_cost_usd, oracle(test, scenario).total_cost_usd
    held = replay_thresholds(
        test, scenario, test_contexts, lambda p, c: bound.keep_alive.get((p, c), default)
    )
    one = replay_thresholds(test, scenario, [""] * len(test), lambda _p, _c: default)  # one pool: its best
    return OnlineBound(
        bound.total_cost_usd / fit_oracle,
        sum(held.values()) / test_oracle,
        sum(one.values()) / test_oracle,
        test_oracle,
    )


def main(argv: Sequence[str] = ()) -> dict[str, dict[str, dict[str, float]]]:
    days = int(argv[0]) if argv else FIT_DAYS
    print(
        "the best any online policy can do on one scientist's pool of the experiment-team generator\n"
        f"(a keep-alive per 10-minute slot of the day, picked on {days:,} days of the generator;"
        " ratio to the oracle):"
    )
    report: dict[str, dict[str, dict[str, float]]] = {}
    fit_rows, test_rows = experiment_team(seed=101, days=days), experiment_team(seed=202, days=TEST_DAYS)
    bounds: dict[tuple[str, str], OnlineBound] = {}
    for who, (user, count) in SCIENTISTS.items():
        fit, test = solo_gaps(fit_rows, user), solo_gaps(test_rows, user)
        for label, (instance_type, people) in SCENARIOS.items():
            cost = CostModel(price_per_hour(instance_type), count, people, 150.0, 20.0)
            bounds[who, label] = online_bound(fit, test, cost)
    shared_days = min(days, SHARED_DAYS)
    shared_fit = pool_jobs(experiment_team(seed=101, days=shared_days), SHARED_POOL)
    shared_test = pool_jobs(experiment_team(seed=202, days=shared_days), SHARED_POOL)
    for label, (instance_type, people) in SCENARIOS.items():
        scenario = Scenario(instance_type, price_per_hour(instance_type), people, 150.0, 20.0)
        bounds[SHARED, label] = shared_pool(shared_fit, shared_test, scenario)
    for (who, label), bound in bounds.items():
        report.setdefault(who, {})[label] = {
            "in_sample": round(bound.in_sample, 4),
            "held_out": round(bound.held_out, 4),
            "one_keep_alive": round(bound.one_keep_alive, 4),
        }
        if who == SHARED:
            continue
        print(
            f"  {who:<36} {label:<23} in sample {bound.in_sample:.3f}  held out {bound.held_out:.3f}"
            f"  (one keep-alive for the whole day {bound.one_keep_alive:.3f})",
            flush=True,
        )
    print(
        f"the shared pool: the best keep-alive per hour and per whether the other's job runs, picked on "
        f"{shared_days} days\n(not a bound: the best online policy there may know more), and dana's bound "
        "with it, weighted by the oracle's cost:"
    )
    for label in SCENARIOS:
        shared, dana = bounds[SHARED, label], bounds[DANA, label]
        dana_daily, shared_daily = dana.oracle_usd / TEST_DAYS, shared.oracle_usd / shared_days
        team = (dana.in_sample * dana_daily + shared.held_out * shared_daily) / (dana_daily + shared_daily)
        report.setdefault(TEAM, {})[label] = {"estimate": round(team, 4)}
        print(
            f"  {SHARED:<36} {label:<23} in sample {shared.in_sample:.3f}  held out {shared.held_out:.3f}"
            f"  (one keep-alive {shared.one_keep_alive:.3f}); {TEAM}: {team:.3f}",
            flush=True,
        )
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
