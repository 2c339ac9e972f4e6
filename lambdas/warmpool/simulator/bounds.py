"""Hindsight bounds for threshold rules: how low could a keep-alive chosen per pool and per context go?

A threshold rule keeps every cluster that goes idle for a fixed time, chosen from what it knows when the
cluster goes idle: its pool and a context (the time of day, the day of the week...). Choosing those
thresholds in hindsight, on the very jobs they are scored on, gives a bound that no fixed thresholds of
that kind beat, however they were chosen. If it is above a target, meeting the target takes more than
knowing the pool and that context: a learner would have to do better than hindsight fixed thresholds
(as adaptive does on the HPO sweep, by re-deciding as a pool stays idle and by forgetting old gaps).

The replay here is the simulator's model (docs/simulator.md) without the decision engine, which is
exactly what a fixed keep-alive needs and about twenty times faster: a job holds its cluster from submit
to submit + duration; an ended cluster idles for its keep-alive and is gone at its expiry; an arriving
job takes the most recently idled live cluster of its pool, or starts cold. The thresholds are found by
coordinate descent: pools do not interact, so for each context in turn every pool takes the grid value
that makes it cheapest, the other contexts held; one sweep from the best keep-alive per pool settles
it (a local optimum, so the bound is what hindsight reaches this way, not necessarily the lowest there
is).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from warmpool.simulator.replay import END, STATIC_GRID, Scenario, events_in_order
from warmpool.simulator.trace import TraceJob

SWEEPS = 1  # one sweep from the per-pool optimum settles it to within 0.01% on the shared trace (bench)


@dataclass(frozen=True, slots=True)
class IdleStart:
    """A cluster going idle: the context a threshold rule decides from."""

    at_s: float  # seconds from the trace's start
    pool: str
    job_duration_s: float
    scenario: Scenario


Context = Callable[[IdleStart], Hashable]


def pool_only(idle: IdleStart) -> Hashable:
    return ""


def time_of_week(idle: IdleStart) -> Hashable:
    """A 6-hour block of the day and whether it is a weekend, on the trace's clock (`Scenario.start`'s
    offset: UTC unless `simulate --timezone` or `--start` says otherwise)."""
    when = idle.scenario.start + timedelta(seconds=idle.at_s)
    return (when.hour // 6, when.weekday() >= 5)


CONTEXTS: dict[str, Context] = {"pool": pool_only, "pool + time of week": time_of_week}


@dataclass(frozen=True)
class Bound:
    context: str
    total_cost_usd: float
    by_pool: dict[str, float]
    keep_alive: dict[tuple[str, Hashable], int]  # the hindsight choice per (pool, context)
    fleet_keep_alive: int  # the best single keep-alive for every pool together


@dataclass(frozen=True, slots=True)
class _Idle:
    since: float
    expires: float
    count: int
    provisioned: float


class _Trace:
    """A trace's events in the simulator's order (at equal times, job ends before arrivals), and each
    job end's (pool, context) key, numbered once so that a replay reads its keep-alive from a list."""

    def __init__(self, jobs: Sequence[TraceJob], scenario: Scenario, contexts: Sequence[Hashable]) -> None:
        self.scenario = scenario
        self.jobs = jobs
        # (time, ARRIVE or END, job index)
        self.events = [(t, kind, index) for t, _, index, kind in events_in_order(jobs)]
        self.key_ids: dict[tuple[str, Hashable], int] = {}
        self.job_key: list[int] = []
        for job, ctx in zip(jobs, contexts, strict=True):
            self.job_key.append(self.key_ids.setdefault((job.pool, ctx), len(self.key_ids)))

    def replay(self, keep_alive: Sequence[float]) -> dict[str, float]:
        """Cost per pool (USD) when each cluster idles for the keep-alive of its (pool, context) key,
        cut at the cluster's maximum lifetime as the engine cuts it."""
        scenario = self.scenario
        prices = {pool: scenario.price_of(pool) / 3600.0 for pool in {job.pool for job in self.jobs}}  # USD/s
        lifetime = scenario.limits.max_lifetime_seconds
        by_pool: dict[str, float] = defaultdict(float)
        idle: dict[str, list[_Idle]] = defaultdict(list)
        running: dict[int, tuple[int, float]] = {}  # job index -> its cluster's (count, provisioned at)
        for t, kind, index in self.events:
            job = self.jobs[index]
            stack = idle[job.pool]
            if kind == END:
                count, provisioned = running.pop(index)
                if not job.warm_pool:  # its keep-alive was 0: no warm pool
                    continue
                expires = max(t, min(t + keep_alive[self.job_key[index]], provisioned + lifetime))
                stack.append(_Idle(t, expires, count, provisioned))
                continue
            if stack:  # clusters whose keep-alive ran out before this job are gone
                alive = []
                for cluster in stack:
                    if cluster.expires <= t:
                        idle_s = (cluster.expires - cluster.since) * cluster.count
                        by_pool[job.pool] += idle_s * prices[job.pool]
                    else:
                        alive.append(cluster)
                idle[job.pool] = stack = alive
            if stack and job.warm_pool:
                cluster = stack.pop()  # the most recently idled (job ends come in time order)
                by_pool[job.pool] += (t - cluster.since) * cluster.count * prices[job.pool]
                running[index] = (cluster.count, cluster.provisioned)
            else:
                cost = scenario.cost_model(job.instance_count, job.pool, job.team)
                by_pool[job.pool] += cost.cold_start_penalty
                running[index] = (job.instance_count, t)
        for pool, stack in idle.items():
            by_pool[pool] += sum((c.expires - c.since) * c.count * prices[pool] for c in stack)
        return dict(by_pool)


def contexts_of(jobs: Sequence[TraceJob], scenario: Scenario, context: Context) -> list[Hashable]:
    """Each job end's context, in the order of `jobs`."""
    return [
        context(IdleStart(job.submit_s + job.duration_s, job.pool, job.duration_s, scenario)) for job in jobs
    ]


def replay_fixed(jobs: Sequence[TraceJob], scenario: Scenario, seconds: float) -> dict[str, float]:
    """Cost per pool of one fixed keep-alive for every cluster (what `fixed-N` costs in the simulator)."""
    trace = _Trace(jobs, scenario, [""] * len(jobs))
    return trace.replay([seconds] * len(trace.key_ids))


def replay_thresholds(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    contexts: Sequence[Hashable],
    keep_alive: Callable[[str, Hashable], float],
) -> dict[str, float]:
    """Cost per pool when a cluster idles for `keep_alive(pool, context of the job that ended)`."""
    trace = _Trace(jobs, scenario, contexts)
    return trace.replay([keep_alive(pool, ctx) for pool, ctx in trace.key_ids])


def hindsight_bound(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    context_name: str = "pool + time of week",
    grid: Sequence[int] = STATIC_GRID,
    sweeps: int = SWEEPS,
) -> Bound:
    """The cheapest keep-alive per pool and per context, chosen in hindsight on `jobs` themselves."""
    contexts = contexts_of(jobs, scenario, CONTEXTS[context_name])
    return fit_thresholds(jobs, scenario, contexts, context_name, grid, sweeps)


def fit_thresholds(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    contexts: Sequence[Hashable],
    context_name: str = "",
    grid: Sequence[int] = STATIC_GRID,
    sweeps: int = SWEEPS,
) -> Bound:
    """The cheapest keep-alive per pool and per context (`contexts[i]`: the context of job i's end),
    fitted on `jobs` by coordinate descent from the best keep-alive per pool."""
    trace = _Trace(jobs, scenario, contexts)
    keys = list(trace.key_ids)
    runs = [trace.replay([seconds] * len(keys)) for seconds in grid]
    pools = sorted({job.pool for job in jobs})
    best_of_pool = {pool: min(range(len(grid)), key=lambda k: runs[k].get(pool, 0.0)) for pool in pools}
    choice = [grid[best_of_pool[pool]] for pool, _ in keys]
    costs = {pool: runs[best_of_pool[pool]].get(pool, 0.0) for pool in pools}
    distinct = sorted({ctx for _, ctx in keys}, key=repr)
    for _ in range(sweeps if len(distinct) > 1 else 0):
        for context in distinct:
            ids = [i for i, (_, ctx) in enumerate(keys) if ctx == context]
            for seconds in grid:
                trial = list(choice)
                for i in ids:
                    trial[i] = seconds
                result = trace.replay(trial)
                for i in ids:  # pools do not interact: each keeps what makes it cheaper
                    pool = keys[i][0]
                    if result.get(pool, 0.0) < costs[pool] - 1e-9:
                        costs[pool] = result.get(pool, 0.0)
                        choice[i] = seconds
    fleet = grid[min(range(len(grid)), key=lambda k: sum(runs[k].values()))]
    return Bound(context_name, sum(costs.values()), costs, dict(zip(keys, choice, strict=True)), fleet)
