"""Replay a trace through `decide_keep_alive` on a virtual clock (the model: docs/simulator.md).

A job holds its cluster from submit to submit + duration. When it ends, the cluster idles for the
keep-alive the strategy chose; the engine comes back before each step runs out (plan_step), exactly as
the Lambdas do. An arriving job takes the most recently idled live cluster of its pool (warm start) or
starts cold. Cost = idle instance-seconds x price + cold starts x (cold - warm start-up seconds) x
(price x count + people cost per hour) / 3600.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from warmpool.domain.decide import decide_keep_alive
from warmpool.domain.history import uncensor_latest
from warmpool.domain.model import (
    Action,
    CostModel,
    EngineLimits,
    IdleGap,
    MatchKey,
    Pool,
    Trigger,
    WarmPoolStatus,
)
from warmpool.domain.policy.document import PolicyDocument, Rules
from warmpool.domain.policy.resolve import resolve_rules
from warmpool.domain.stepping import horizon_at
from warmpool.service.lifecycle import fleet_view, idle_cost_by_day, team_of
from warmpool.service.ports import PoolRecord
from warmpool.simulator.trace import TraceJob

HISTORY_LIMIT = 64
DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday, midnight UTC
STATIC_GRID = (0, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 43200)


@dataclass(frozen=True)
class Scenario:
    instance_type: str = "ml.g5.2xlarge"
    price_per_hour: float = 1.515
    people_cost_per_hour: float = 0.0
    cold_start_s: float = 150.0
    warm_start_s: float = 20.0
    start: datetime = DEFAULT_START  # the moment of the trace's second 0
    limits: EngineLimits = field(default_factory=EngineLimits)
    timezone: str = "UTC"  # without a policy: the team's day, where adaptive learns the time of day
    # `simulate --instance-type trace`: each pool's own instance type and each type's USD per
    # instance-hour. A pool missing from `pool_types` is on `instance_type` at `price_per_hour`.
    pool_types: Mapping[str, str] = field(default_factory=dict)
    type_prices: Mapping[str, float] = field(default_factory=dict)
    # A (pool, team) job's cold start where it is not priced as the scenario's: USD per hour of people's
    # time, cold and warm start-up seconds. The demo prices each job's wait as its team's policy does.
    start_costs: Mapping[tuple[str, str | None], tuple[float, float, float]] = field(default_factory=dict)

    def type_of(self, pool: str) -> str:
        return self.pool_types.get(pool, self.instance_type)

    def price_of(self, pool: str) -> float:
        """USD per instance-hour of `pool`'s instances."""
        kind = self.pool_types.get(pool)
        return self.price_per_hour if kind is None else self.type_prices[kind]

    def cost_model(self, count: int, pool: str | None = None, team: str | None = None) -> CostModel:
        people, cold, warm = self.start_costs.get(
            (pool or "", team), (self.people_cost_per_hour, self.cold_start_s, self.warm_start_s)
        )
        return CostModel(
            self.price_per_hour if pool is None else self.price_of(pool), count, people, cold, warm
        )


Part = tuple[str, str | None]
"""What a result is split by: a pool and a team, the team of the job whose cost it is. A start is the
arriving job's; an idle period, and the keep-alive updates that set it, the job's whose end left the
cluster idle (the engine books an idle gap's cost to the team of the pool as that job left it)."""
IDLE_S, COLD, WARM, UPDATES, USD = range(5)  # what a part counts, in this order


@dataclass
class StrategyResult:
    strategy: str
    total_cost_usd: float = 0.0
    idle_instance_seconds: float = 0.0
    cold_starts: int = 0
    warm_starts: int = 0
    keepalive_updates: int = 0
    idle_cost_usd: float = 0.0
    cold_start_cost_usd: float = 0.0
    # per part, in the order each was first counted: [idle instance-seconds, cold starts, warm starts,
    # keep-alive updates, USD]
    parts: dict[Part, list[float]] = field(default_factory=dict)

    def part(self, pool: str, team: str | None) -> list[float]:
        """The counts of the part of `pool` that `team`'s jobs caused (a new part counts nothing yet)."""
        counts = self.parts.get((pool, team))
        if counts is None:
            counts = self.parts[(pool, team)] = [0.0, 0.0, 0.0, 0.0, 0.0]
        return counts

    def tally(self, pool: str, team: str | None, index: int, amount: float = 1.0, usd: float = 0.0) -> None:
        """Count `amount` (and `usd`) in the part of `pool` that `team`'s jobs caused."""
        counts = self.part(pool, team)
        counts[index] += amount
        counts[USD] += usd

    @property
    def by_pool(self) -> dict[str, float]:
        """USD per pool, all its teams together."""
        usd: dict[str, float] = {}
        for (pool, _), counts in self.parts.items():
            usd[pool] = usd.get(pool, 0.0) + counts[USD]
        return usd

    @property
    def pool_counts(self) -> dict[str, list[float]]:
        """Per pool, all its teams together: [idle instance-seconds, cold starts, warm starts, updates]."""
        out: dict[str, list[float]] = {}
        for (pool, _), counts in self.parts.items():
            into = out.setdefault(pool, [0.0, 0.0, 0.0, 0.0])
            for index in (IDLE_S, COLD, WARM, UPDATES):
                into[index] += counts[index]
        return out

    def add_part(self, part: Part, counts: Sequence[float], price_per_hour: float) -> None:
        """Count `part` as `counts` (a part of another result) has it: its idle time, starts, updates
        and cost."""
        idle_s, cold, warm, updates, usd = counts
        self.parts[part] = list(counts)
        self.idle_instance_seconds += idle_s
        self.idle_cost_usd += idle_s * price_per_hour / 3600.0
        self.cold_starts += int(cold)
        self.warm_starts += int(warm)
        self.keepalive_updates += int(updates)
        self.total_cost_usd += usd
        self.cold_start_cost_usd = self.total_cost_usd - self.idle_cost_usd

    def of_parts(self, parts: Iterable[Part], scenario: Scenario) -> StrategyResult:
        """The part of this result that `parts` make up (a part it never counted counts nothing)."""
        part = StrategyResult(self.strategy)
        for key in parts:
            part.add_part(key, self.parts.get(key, (0.0, 0.0, 0.0, 0.0, 0.0)), scenario.price_of(key[0]))
        return part

    def to_json(self, oracle_cost: float | None) -> dict[str, float | int | None]:
        return {
            "total_cost_usd": round(self.total_cost_usd, 4),
            "idle_instance_seconds": round(self.idle_instance_seconds, 1),
            "cold_starts": self.cold_starts,
            "warm_starts": self.warm_starts,
            "keepalive_updates": self.keepalive_updates,
            "ratio_to_oracle": round(self.total_cost_usd / oracle_cost, 4) if oracle_cost else None,
            "idle_cost_usd": round(self.idle_cost_usd, 4),
            "cold_start_cost_usd": round(self.cold_start_cost_usd, 4),
        }


@dataclass
class _Cluster:
    cid: int
    pool: str
    team: str | None  # its latest job's: the engine's record of a reused pool is the new job's
    count: int
    provisioned: float
    idle_since: float | None = None
    expires_at: float = 0.0
    keep_alive: int = 0
    steps: int = 0
    version: int = 0
    last_duration: float = 0.0
    last_failed: bool = False
    last_keep_alive: int = 0  # its latest job's own keep-alive, which the `job` strategy keeps
    warm_pool: bool = True  # False when its latest job's own keep-alive was 0: it leaves no warm pool
    running_at_idle: int = 0
    known_gaps_at_idle: int = 0
    horizon_at: datetime | None = None  # until when the last decision of this idle period wanted it warm


class _Fleet:
    """The other pools a decision sees, as the engine's registry shows them (`fleet_view`): the live
    idle clusters of every pool, and each team's idle-cost ledger, booked per day of the team's clock
    as the engine books it. Kept only when the policy has a warm-instance limit or a budget: nothing
    else reads it."""

    def __init__(self, replay: _Replay) -> None:
        self.replay = replay
        self.days: dict[tuple[str, date], float] = defaultdict(float)
        self.months: dict[tuple[str, int, int], float] = defaultdict(float)

    def list_by_status(self, status: str) -> list[PoolRecord]:
        if status != WarmPoolStatus.AVAILABLE.value:
            return []
        replay = self.replay
        return [
            PoolRecord(replay.pool_of(cluster, with_history=False))
            for clusters in replay.idle.values()
            for cluster in clusters
            if cluster.expires_at > replay.now_s
        ]

    def idle_cost(self, team: str, at: datetime) -> tuple[float, float]:
        return self.days[(team, at.date())], self.months[(team, at.year, at.month)]

    def book(self, pool: Pool, until: datetime) -> None:
        """An idle period ended: its cost, at the policy's prices, on each of the team's days it was spent."""
        policy = self.replay.policy
        team = team_of(pool, policy)
        for start, usd in idle_cost_by_day(pool, policy, until):
            self.days[(team, start.date())] += usd
            self.months[(team, start.year, start.month)] += usd


class _Replay:
    def __init__(
        self,
        jobs: Sequence[TraceJob],
        scenario: Scenario,
        policy: PolicyDocument | None,
        strategy: str,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.jobs = jobs
        self.scenario = scenario
        self.strategy = strategy
        self.policy = _policy_for(policy, strategy, scenario)
        self.progress = progress
        self.result = StrategyResult(strategy)
        self.idle: dict[str, list[_Cluster]] = defaultdict(list)
        self.history: dict[str, list[IdleGap]] = defaultdict(list)
        self.team_history: dict[str, list[IdleGap]] = defaultdict(list)
        self.events: list[tuple[float, int, int, str, object]] = []
        self.seq = itertools.count()
        self.ids = itertools.count(1)
        self.running: dict[str, int] = defaultdict(int)  # pool -> jobs holding a cluster now
        self.now_s = 0.0  # the virtual clock, in seconds from the trace's start
        self.origin = scenario.start.astimezone(UTC)  # the engine's clock is UTC, as in the Lambdas
        uses_fleet = self.policy.uses_limits or self.policy.uses_budgets
        self.fleet = _Fleet(self) if uses_fleet else None

    # -------------------------------------------------------------- helpers
    def at(self, t: float) -> datetime:
        return self.origin + timedelta(seconds=t)

    def push(self, t: float, kind: str, payload: object) -> None:
        heapq.heappush(self.events, (t, _RANK[kind], next(self.seq), kind, payload))

    def cost(self, count: int, pool: str, team: str | None) -> CostModel:
        return self.scenario.cost_model(count, pool, team)

    def charge_idle(self, cluster: _Cluster, until: float, reused: bool) -> None:
        assert cluster.idle_since is not None
        seconds = max(0.0, until - cluster.idle_since)
        instance_seconds = seconds * cluster.count
        self.result.idle_instance_seconds += instance_seconds
        usd = instance_seconds * self.scenario.price_of(cluster.pool) / 3600.0
        self.result.idle_cost_usd += usd
        self.result.tally(cluster.pool, cluster.team, IDLE_S, instance_seconds, usd)
        if self.fleet is not None:
            self.fleet.book(self.pool_of(cluster, with_history=False), self.at(until))
        gap = IdleGap(
            self.at(cluster.idle_since),
            seconds,
            reused,
            cluster.last_duration,
            cluster.running_at_idle,
            cluster.known_gaps_at_idle,
        )
        for store, key in self.history_stores(cluster.pool, cluster.team):
            gaps = store[key]
            gaps.append(gap)
            if len(gaps) > HISTORY_LIMIT * 2:
                del gaps[: len(gaps) - HISTORY_LIMIT]

    def history_stores(self, pool: str, team: str | None) -> list[tuple[dict[str, list[IdleGap]], str]]:
        """Where a pool's gaps are kept: its own history, and its team's. Like the engine, a pool
        without a team tag learns with the policy's default team, the team whose rules it gets."""
        return [(self.history, pool), (self.team_history, team or self.policy.default_team)]

    def uncensor(self, pool: str, team: str | None, t: float) -> None:
        """A cold start reveals how long the latest released pool would have had to wait: its censored
        gap becomes an observed one (the engine does the same when a matching job starts cold)."""
        at = self.at(t)
        for store, key in self.history_stores(pool, team):
            uncensor_latest(store[key], at)

    def sweep(self, pool: str, now: float) -> None:
        """Idle clusters whose keep-alive ran out before `now` are gone."""
        alive = []
        for cluster in self.idle[pool]:
            if cluster.expires_at <= now:
                self.charge_idle(cluster, cluster.expires_at, reused=False)
            else:
                alive.append(cluster)
        self.idle[pool] = alive

    # -------------------------------------------------------------- events
    def run(self) -> StrategyResult:
        for index, job in enumerate(self.jobs):
            self.push(job.submit_s, "arrive", index)
        handled = 0
        while self.events:
            t, _, _, kind, payload = heapq.heappop(self.events)
            self.now_s = t
            if kind == "arrive":
                assert isinstance(payload, int)
                self.arrive(t, payload)
                handled += 1
                if self.progress and handled % 1000 == 0:
                    self.progress(handled)
            elif kind == "end":
                assert isinstance(payload, _Cluster)
                self.end(t, payload)
            else:
                assert isinstance(payload, tuple)
                cluster, version = payload
                if cluster.idle_since is not None and cluster.version == version and cluster.expires_at > t:
                    self.decide(t, cluster, Trigger.STEP_DUE)
        for pool in list(self.idle):
            self.sweep(pool, float("inf"))
        self.result.total_cost_usd = self.result.idle_cost_usd + self.result.cold_start_cost_usd
        return self.result

    def arrive(self, t: float, index: int) -> None:
        job = self.jobs[index]
        self.sweep(job.pool, t)
        candidates = self.idle[job.pool]
        chosen: _Cluster | None = None
        if candidates and job.warm_pool:  # a job created without a keep-alive takes no warm pool
            chosen = max(candidates, key=lambda c: c.idle_since or 0.0)
        if chosen is not None:
            candidates.remove(chosen)
            self.charge_idle(chosen, t, reused=True)
            chosen.idle_since = None
            chosen.version += 1
            # the job's own team from now on, as the engine's record of the pool is the job's
            chosen.team = job.team
            cluster = chosen
            self.result.warm_starts += 1
            self.result.tally(job.pool, job.team, WARM)
        else:
            cluster = _Cluster(next(self.ids), job.pool, job.team, job.instance_count, t)
            self.result.cold_starts += 1
            self.uncensor(job.pool, job.team, t)
            usd = self.cost(job.instance_count, job.pool, job.team).cold_start_penalty
            self.result.cold_start_cost_usd += usd
            self.result.tally(job.pool, job.team, COLD, 1.0, usd)
        cluster.last_duration = job.duration_s
        cluster.last_failed = job.failed
        cluster.last_keep_alive = job.keep_alive_s or 0
        cluster.warm_pool = job.warm_pool
        self.running[job.pool] += 1
        self.push(t + job.duration_s, "end", cluster)

    def end(self, t: float, cluster: _Cluster) -> None:
        self.sweep(cluster.pool, t)
        if not cluster.warm_pool:
            # its job's keep-alive was 0: SageMaker leaves no warm pool, which nothing can extend
            self.running[cluster.pool] -= 1
            return
        cluster.idle_since = t
        cluster.expires_at = t
        self.running[cluster.pool] -= 1
        cluster.running_at_idle = self.running[cluster.pool]
        cluster.known_gaps_at_idle = min(len(self.history[cluster.pool]), HISTORY_LIMIT)
        cluster.keep_alive = 0
        cluster.steps = 0
        cluster.horizon_at = None
        cluster.version += 1
        self.idle[cluster.pool].append(cluster)
        self.decide(t, cluster, Trigger.JOB_EVENT)

    def pool_of(self, cluster: _Cluster, *, with_history: bool = True) -> Pool:
        """An idle cluster as the engine's registry holds an Available pool; with the gap histories it
        learns from when it is the one decided (the other pools a decision sees need none)."""
        team_key = cluster.team or self.policy.default_team
        return _idle_pool(
            cluster,
            self.scenario,
            self.origin,
            tuple(self.history[cluster.pool][-HISTORY_LIMIT:]) if with_history else (),
            tuple(self.team_history[team_key][-HISTORY_LIMIT:]) if with_history else (),
        )

    def release(self, pool_id: str, t: float) -> None:
        """Another decision released this idle cluster (keep-alive 0) to make room."""
        for clusters in self.idle.values():
            for cluster in clusters:
                if f"c{cluster.cid}" == pool_id and cluster.expires_at > t:
                    cluster.expires_at = t
                    cluster.keep_alive = 0
                    cluster.version += 1  # its planned look is void
                    self.result.keepalive_updates += 1
                    self.result.tally(cluster.pool, cluster.team, UPDATES)
                    return

    def decide(self, t: float, cluster: _Cluster, trigger: Trigger) -> None:
        assert cluster.idle_since is not None
        now = self.at(t)
        pool = self.pool_of(cluster)
        fleet = (
            fleet_view(
                self.fleet, self.policy, now, teams=(team_of(pool, self.policy),), deciding=pool.pool_id
            )
            if self.fleet is not None
            else None
        )
        decision = decide_keep_alive(
            pool,
            self.policy,
            now,
            limits=self.scenario.limits,
            trigger=trigger,
            cost=self.cost(cluster.count, cluster.pool, cluster.team),
            fleet=fleet,
        )
        for victim in decision.release_pool_ids:  # released to make room (on_limit: release-least-valuable)
            self.release(victim, t)
        cluster.horizon_at = horizon_at(pool, decision)  # as the engine records it
        if decision.keep_alive_seconds is not None and decision.action in (
            Action.EXTEND,
            Action.SHORTEN,
            Action.RELEASE,
        ):
            self.result.keepalive_updates += 1
            self.result.tally(cluster.pool, cluster.team, UPDATES)
            cluster.keep_alive = decision.keep_alive_seconds
            cluster.expires_at = t + decision.keep_alive_seconds
            cluster.steps += 1
        if decision.next_check_at is not None:
            check = (decision.next_check_at - self.origin).total_seconds()
            self.push(max(check, t + 1), "check", (cluster, cluster.version))


def _idle_pool(
    cluster: _Cluster,
    scenario: Scenario,
    origin: datetime,
    history: tuple[IdleGap, ...] = (),
    team_history: tuple[IdleGap, ...] = (),
) -> Pool:
    """An idle cluster as the engine's registry holds an Available pool."""
    assert cluster.idle_since is not None

    def at(t: float) -> datetime:
        return origin + timedelta(seconds=t)

    return Pool(
        pool_id=f"c{cluster.cid}",
        job_name=f"c{cluster.cid}",
        job_arn="",
        match_key=MatchKey("sim", scenario.type_of(cluster.pool), cluster.count, 0),
        status=WarmPoolStatus.AVAILABLE,
        team=cluster.team,
        tags={"team": cluster.team} if cluster.team else {},
        keep_alive_seconds=cluster.keep_alive,
        job_keep_alive_seconds=cluster.last_keep_alive,
        available_since=at(cluster.idle_since),
        expires_at=at(cluster.expires_at),
        lifetime_started_at=at(cluster.provisioned),
        steps_taken=cluster.steps,
        horizon_at=cluster.horizon_at,
        history=history,
        team_history=team_history,
        last_job_duration_s=cluster.last_duration,
        running_at_idle=cluster.running_at_idle,
        known_gaps_at_idle=cluster.known_gaps_at_idle,
        job_status="Failed" if cluster.last_failed else "Completed",
    )


def _policy_for(policy: PolicyDocument | None, strategy: str, scenario: Scenario) -> PolicyDocument:
    if policy is None:
        defaults = Rules(
            keep_alive_strategy=strategy,
            max_horizon_minutes=28 * 24 * 60,
            min_step_minutes=1,
            people_cost_per_hour=scenario.people_cost_per_hour,
            cold_start_seconds=scenario.cold_start_s,
            warm_start_seconds=scenario.warm_start_s,
            timezone=scenario.timezone,
        )
        return PolicyDocument(defaults=defaults, default_team="sim")

    # The strategy being replayed decides every pool: a team, owner or selector that names a strategy of
    # its own would otherwise make that column a mix of strategies.
    def without(rules: Rules) -> Rules:
        return (
            rules
            if rules.keep_alive_strategy is None
            else rules.model_copy(update={"keep_alive_strategy": None})
        )

    # A replay shows what the policy does: its `dry_run` is the deployment's trial switch, not a rule.
    # Kept, each decision's keep-alive was replayed but the pools a limit releases to make room were
    # not (a dry run's decision names none), so the team limit never bound.
    return policy.model_copy(
        update={
            "dry_run": False,
            "defaults": policy.defaults.model_copy(update={"keep_alive_strategy": strategy}),
            "teams": {name: without(rules) for name, rules in policy.teams.items()},
            "owners": {name: without(rules) for name, rules in policy.owners.items()},
            "selectors": tuple(
                selector.model_copy(update={"rules": without(selector.rules)})
                for selector in policy.selectors
            ),
        }
    )


ARRIVE, END = 0, 1
# At one instant, job ends come before arrivals (a job submitted as another ends takes its cluster), and
# arrivals before the checks of idle clusters. A job of no duration ends right after it arrives.
_RANK = {"end": 0, "arrive": 1, "check": 2}


def events_in_order(jobs: Sequence[TraceJob]) -> list[tuple[float, int, int, int]]:
    """Every job's arrival and end as (time, rank, job index, ARRIVE or END), in the replay's order."""
    events: list[tuple[float, int, int, int]] = []
    for index, job in enumerate(jobs):
        events.append((job.submit_s, _RANK["arrive"], index, ARRIVE))
        if job.duration_s > 0:
            events.append((job.submit_s + job.duration_s, _RANK["end"], index, END))
        else:
            events.append((job.submit_s, _RANK["arrive"], index, END))
    events.sort()
    return events


def replay(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    strategy: str,
    *,
    policy: PolicyDocument | None = None,
    progress: Callable[[int], None] | None = None,
) -> StrategyResult:
    if strategy == "oracle":
        return oracle(jobs, scenario, policy)
    return _Replay(jobs, scenario, policy, strategy, progress).run()


def oracle(
    jobs: Sequence[TraceJob], scenario: Scenario, policy: PolicyDocument | None = None
) -> StrategyResult:
    """The clairvoyant: it knows every arrival, so each ended cluster waits exactly for the next job it
    will serve, when waiting is cheaper than that job's cold start, and is released at once otherwise.
    Arrivals are served by the most recently idled cluster (the pairing changes no idle total: the sum
    of the matched gaps is the same), so the optimum is a greedy pass in time order. Its parts are
    booked as the replay books them: a wait to the team whose job left the cluster idle, a start to
    the arriving job's.

    With `policy`, it keeps only what the policy allows (`_PolicyBounds`): each cluster no longer than
    the engine would keep it under a strategy that wants every second (instance types, failures, the
    maximum horizon, working hours, the maximum lifetime), and its waits together within the teams' and
    types' warm-instance limits and the teams' budgets. An arrival then takes the most recently idled
    cluster the policy lets wait for it (a greedy bound, no longer provably the optimum)."""
    result = StrategyResult("oracle")
    lifetime = scenario.limits.max_lifetime_seconds
    bounds = _PolicyBounds(policy, scenario) if policy is not None else None
    provisioned: dict[int, float] = {}  # job index -> when its cluster started cold
    # pool -> [(ended at, count, provisioned, the team of the job that ended, its ending job's index)]
    idle: dict[str, list[tuple[float, int, float, str | None, int]]] = defaultdict(list)
    for t, _, index, kind in events_in_order(jobs):
        job = jobs[index]
        if kind == END:
            if job.warm_pool:  # a job created with a keep-alive of 0 leaves no warm pool
                idle[job.pool].append((t, job.instance_count, provisioned[index], job.team, index))
            continue
        # a cluster at its maximum lifetime serves no job (the engine keeps none warm past it)
        stack = idle[job.pool] = [c for c in idle[job.pool] if c[2] + lifetime > t]
        cost = scenario.cost_model(job.instance_count, job.pool, job.team)
        chosen: int | None = None
        for position in range(len(stack) - 1 if job.warm_pool else -1, -1, -1):
            ended = stack[position][0]
            if (t - ended) * cost.idle_cost_per_second >= cost.cold_start_penalty:
                break  # an older cluster waited longer still
            if bounds is None or bounds.allows(jobs[stack[position][4]], stack[position], t):
                chosen = position
                break
        if chosen is not None:
            ended, count, provisioned[index], left_idle_by, _ = stack.pop(chosen)
            seconds = (t - ended) * count
            result.idle_instance_seconds += seconds
            usd = seconds * scenario.price_of(job.pool) / 3600.0
            result.idle_cost_usd += usd
            result.warm_starts += 1
            updates = max(1, math.ceil((t - ended) / scenario.limits.max_step_seconds))
            result.keepalive_updates += updates
            # the wait, and the updates that kept the cluster, are the team's whose job left it idle
            wait = result.part(job.pool, left_idle_by)
            wait[IDLE_S] += seconds
            wait[UPDATES] += updates
            wait[USD] += usd
            result.part(job.pool, job.team)[WARM] += 1
        else:
            provisioned[index] = t
            result.cold_starts += 1
            usd = cost.cold_start_penalty
            result.cold_start_cost_usd += usd
            result.tally(job.pool, job.team, COLD, 1.0, usd)
    result.total_cost_usd = result.idle_cost_usd + result.cold_start_cost_usd
    return result


class _PolicyBounds:
    """What a policy lets the oracle keep, by the engine's own rules. One cluster: `decide_keep_alive`
    asked, as the cluster goes idle, about a strategy that wants it warm to its maximum lifetime; the
    horizon it reaches is the longest the engine would keep it (released at once for a denied instance
    type or a failure under `release_on_failure`, cut at the maximum horizon, the end of the working day,
    a budget). Together: the oracle's own waits are the warm pools the limits count (`max_warm_instances`
    of the cluster's team, `instance_type_limits` of its type) and the idle cost its team's budget counts,
    at the policy's prices per day and month of the team's clock, as the engine books it."""

    def __init__(self, policy: PolicyDocument, scenario: Scenario) -> None:
        self.scenario = scenario
        self.origin = scenario.start.astimezone(UTC)
        self.policy = _policy_for(policy, f"fixed-{scenario.limits.max_lifetime_seconds}", scenario)
        # a limit's key (("team", name) or ("type", instance type)) -> the oracle's waits it counts:
        # [(from, until, instances)]
        self.warm: dict[tuple[str, str], list[tuple[float, float, int]]] = defaultdict(list)
        self.days: dict[tuple[str, date], float] = defaultdict(float)
        self.months: dict[tuple[str, int, int], float] = defaultdict(float)
        self.caps: dict[int, tuple[int, Pool]] = {}  # the ending job's index -> (`_cap`)

    def allows(
        self, ended_job: TraceJob, cluster: tuple[float, int, float, str | None, int], t: float
    ) -> bool:
        """Whether the policy lets the cluster `ended_job` left idle wait until `t`; if so, it is booked."""
        ended, count, _, _, index = cluster
        known = self.caps.get(index)
        if known is None:  # asked once per idle cluster: the answer does not depend on `t`
            known = self.caps[index] = self._cap(ended_job, cluster)
        horizon, pool = known
        if horizon < t - ended:
            return False
        rules = resolve_rules(self.policy, pool)
        oldest = t - self.scenario.limits.max_lifetime_seconds  # no later wait reaches back further
        keys: list[tuple[tuple[str, str], int]] = []
        type_limit = self.policy.instance_type_limits.get(pool.instance_type)
        if type_limit is not None:
            keys.append((("type", pool.instance_type), type_limit))
        team_limit = rules.get("max_warm_instances")
        if team_limit is not None:
            keys.append((("team", rules.team), int(team_limit)))
        for key, _ in keys:
            self.warm[key] = [wait for wait in self.warm[key] if wait[1] > oldest]
        if any(self._most_warm(self.warm[key], ended, t) + count > limit for key, limit in keys):
            return False
        budget = rules.get("budget")
        costs = idle_cost_by_day(pool, self.policy, self.origin + timedelta(seconds=t))
        if budget is not None:
            days: dict[date, float] = defaultdict(float)
            months: dict[tuple[int, int], float] = defaultdict(float)
            for start, usd in costs:
                days[start.date()] += usd
                months[(start.year, start.month)] += usd
            if budget.daily_usd is not None and any(
                self.days[(rules.team, day)] + usd > budget.daily_usd + 1e-9 for day, usd in days.items()
            ):
                return False
            if budget.monthly_usd is not None and any(
                self.months[(rules.team, *month)] + usd > budget.monthly_usd + 1e-9
                for month, usd in months.items()
            ):
                return False
        for key, _ in keys:
            self.warm[key].append((ended, t, count))
        for start, usd in costs:
            self.days[(rules.team, start.date())] += usd
            self.months[(rules.team, start.year, start.month)] += usd
        return True

    def _cap(
        self, ended_job: TraceJob, cluster: tuple[float, int, float, str | None, int]
    ) -> tuple[int, Pool]:
        """The longest the engine keeps the cluster warm (seconds from its idle start), and the cluster
        as the engine's pool."""
        ended, count, provisioned, team, _ = cluster
        idle = _Cluster(
            0,
            ended_job.pool,
            team,
            count,
            provisioned,
            idle_since=ended,
            expires_at=ended,
            last_duration=ended_job.duration_s,
            last_failed=ended_job.failed,
            last_keep_alive=ended_job.keep_alive_s or 0,
        )
        pool = _idle_pool(idle, self.scenario, self.origin)
        decision = decide_keep_alive(
            pool,
            self.policy,
            self.origin + timedelta(seconds=ended),
            limits=self.scenario.limits,
            cost=self.scenario.cost_model(count, ended_job.pool, team),
        )
        return decision.horizon_seconds, pool

    @staticmethod
    def _most_warm(waits: list[tuple[float, float, int]], start: float, end: float) -> int:
        """The most instances `waits` keep warm at once between `start` and `end`."""
        changes: list[tuple[float, int]] = []
        for since, until, count in waits:
            if since < end and until > start:
                changes.append((max(since, start), count))
                changes.append((until, -count))
        most = warm = 0
        for _, change in sorted(changes, key=lambda c: (c[0], c[1])):
            warm += change
            most = max(most, warm)
        return most


def static_best(
    jobs: Sequence[TraceJob], scenario: Scenario, policy: PolicyDocument | None = None
) -> StrategyResult:
    """The best single fixed keep-alive per pool, chosen in hindsight (a bound no static rule beats)."""
    return _best_per_pool(_static_runs(jobs, scenario, policy), scenario)


def _static_runs(
    jobs: Sequence[TraceJob], scenario: Scenario, policy: PolicyDocument | None = None
) -> list[StrategyResult]:
    """One replay per fixed keep-alive of STATIC_GRID, in its order."""
    return [replay(jobs, scenario, f"fixed-{seconds}", policy=policy) for seconds in STATIC_GRID]


def _best_per_pool(runs: Sequence[StrategyResult], scenario: Scenario) -> StrategyResult:
    """Each pool as the run that made it cheapest counted it, each of its teams' parts included."""
    costs = [run.by_pool for run in runs]
    chosen = {pool: min(range(len(runs)), key=lambda k: costs[k].get(pool, 0.0)) for pool in costs[0]}
    best = StrategyResult("static-best")
    for pool, team in runs[0].parts:
        best.add_part((pool, team), runs[chosen[pool]].parts[(pool, team)], scenario.price_of(pool))
    return best


@dataclass(frozen=True)
class Holdout:
    """The best fixed keep-alive per pool, chosen on the first part of a trace and on the second."""

    split_s: float
    jobs_scored: int
    oracle_usd: float
    in_sample_usd: float  # per pool, chosen in hindsight on the part it is scored on
    held_out_usd: float  # per pool, chosen on the part before the split

    @property
    def in_sample_ratio(self) -> float:
        return self.in_sample_usd / self.oracle_usd

    @property
    def held_out_ratio(self) -> float:
        return self.held_out_usd / self.oracle_usd


def static_holdout(jobs: Sequence[TraceJob], scenario: Scenario, split_s: float) -> Holdout:
    """How much of the hindsight static bound is hindsight: fit one fixed keep-alive per pool on the
    jobs submitted before `split_s`, then score it on the jobs after (replayed alone, from cold),
    against the keep-alive fitted on those same later jobs. A pool not seen before the split gets the
    keep-alive that was best over all earlier pools together."""
    before = [job for job in jobs if job.submit_s < split_s]
    after = [job for job in jobs if job.submit_s >= split_s]
    fitted = _static_runs(before, scenario)
    scored = _static_runs(after, scenario)
    fleet_best = min(range(len(STATIC_GRID)), key=lambda k: fitted[k].total_cost_usd)
    fitted_costs = [run.by_pool for run in fitted]
    scored_costs = [run.by_pool for run in scored]
    held_out = 0.0
    for pool in scored_costs[0]:
        if pool in fitted_costs[0]:
            choice = min(range(len(STATIC_GRID)), key=lambda k: fitted_costs[k][pool])
        else:
            choice = fleet_best
        held_out += scored_costs[choice][pool]
    return Holdout(
        split_s,
        len(after),
        oracle(after, scenario).total_cost_usd,
        _best_per_pool(scored, scenario).total_cost_usd,  # the same runs, chosen in hindsight
        held_out,
    )
