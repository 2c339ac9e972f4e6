"""How much could context buy? Thresholds per pool and per context, fitted on one half of a trace and
scored on the other, against the same thresholds fitted on the half they are scored on.

Each threshold rule keeps a cluster that goes idle for the keep-alive of its pool and of the context of
the job that just ended; the rules are replayed in the simulator's model (`warmpool.simulator.bounds`:
concurrent clusters, the most recently idled one serves the next job, the lifetime cap) and their
thresholds chosen on a grid. The first half is the jobs submitted before the middle of the trace; each
half is replayed alone, from cold.

    python -m bench.context [TRACE.csv] [--people-cost-per-hour 100] [--instance-type ml.g5.2xlarge]

Reads the CSV directly (not through the simulator's loader) because the contexts include columns the
simulator ignores: `status`, `group` and `queue_s` where the trace has them.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from warmpool.domain.pricing import price_per_hour
from warmpool.simulator.bounds import Bound, fit_thresholds, replay_thresholds
from warmpool.simulator.replay import Scenario, oracle
from warmpool.simulator.trace import TraceJob

NEVER = 1e12  # no earlier arrival in the pool


@dataclass(frozen=True)
class End:
    """What is known when a job ends, besides its pool."""

    duration: float
    status: str
    group: str
    queued: bool
    hour: int
    arrivals_last_hour: int
    since_last_arrival: float


def job_ends(path: Path) -> tuple[list[TraceJob], list[End]]:
    """The trace's jobs in submit order (rows with status `Pending` skipped), and each one's end."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("status") != "Pending"]
    ordered = sorted((float(r["submit_time_s"]), float(r["duration_s"]), r["pool"], r) for r in rows)
    arrivals: dict[str, list[float]] = defaultdict(list)
    for submit, _, pool, _ in ordered:
        arrivals[pool].append(submit)
    jobs, ends = [], []
    for submit, duration, pool, row in ordered:
        at = submit + duration
        times = arrivals[pool]
        nxt = bisect.bisect_right(times, at)
        jobs.append(TraceJob(submit, duration, pool, instance_count=int(row.get("instance_count") or 1)))
        ends.append(
            End(
                duration=duration,
                status=row.get("status") or "",
                group=row.get("group") or "",
                queued=float(row.get("queue_s") or 0) > 0,
                hour=int(at % 86400 // 3600),
                arrivals_last_hour=nxt - bisect.bisect_left(times, at - 3600),
                since_last_arrival=at - times[nxt - 1] if nxt > 0 else NEVER,
            )
        )
    return jobs, ends


def _decade(seconds: float) -> int:
    return min(int(math.log10(seconds + 1)), 5)


Key = Callable[[End], Hashable]

CONTEXTS: dict[str, Key] = {
    "pool": lambda e: "",
    "pool + ending job's status": lambda e: e.status,
    "pool + 6-hour block of the day": lambda e: e.hour // 6,
    "pool + arrivals in the last hour": lambda e: min(e.arrivals_last_hour, 3),
    "pool + time since the last arrival": lambda e: _decade(e.since_last_arrival),
    "pool + job duration (decade)": lambda e: _decade(e.duration),
    "pool + QoS group": lambda e: e.group,
    "pool + job had queued": lambda e: e.queued,
}


def held_out(
    jobs: Sequence[TraceJob],
    ends: Sequence[End],
    key: Key,
    scenario: Scenario,
    split: float,
    per_pool: Bound | None = None,
) -> tuple[float, float]:
    """(fitted before the split, fitted on the part scored), both as ratios to the oracle after it.
    A context not seen before the split falls back to its pool's threshold, then to the threshold
    best for every pool together before the split (`per_pool`: those thresholds, when the caller has
    already fitted them for another context)."""
    before = [i for i, job in enumerate(jobs) if job.submit_s < split]
    after = [i for i, job in enumerate(jobs) if job.submit_s >= split]
    jobs_before, jobs_after = [jobs[i] for i in before], [jobs[i] for i in after]
    context_before, context_after = [key(ends[i]) for i in before], [key(ends[i]) for i in after]
    fitted = fit_thresholds(jobs_before, scenario, context_before).keep_alive
    if per_pool is None:
        per_pool = fit_thresholds(jobs_before, scenario, [""] * len(before))
    by_pool, fleet = per_pool.keep_alive, per_pool.fleet_keep_alive

    def keep_alive(pool: str, context: Hashable) -> float:
        return fitted.get((pool, context), by_pool.get((pool, ""), fleet))

    oracle_usd = oracle(jobs_after, scenario).total_cost_usd
    out = sum(replay_thresholds(jobs_after, scenario, context_after, keep_alive).values())
    ins = fit_thresholds(jobs_after, scenario, context_after).total_cost_usd
    return out / oracle_usd, ins / oracle_usd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.context", description=__doc__.splitlines()[0])
    default = (
        Path(__file__).resolve().parents[1].parent / "shared" / "traces" / "alibaba-gpu-2023-days00-24.csv"
    )
    parser.add_argument("trace", nargs="?", type=Path, default=default)
    parser.add_argument("--instance-type", default="ml.g5.2xlarge")
    parser.add_argument("--people-cost-per-hour", type=float, default=100.0)
    parser.add_argument("--cold-minus-warm-s", type=float, default=130.0)
    args = parser.parse_args(argv)
    if not args.trace.is_file():
        print(f"python -m bench.context: {args.trace}: no such trace; pass a CSV path", file=sys.stderr)
        return 2
    price = price_per_hour(args.instance_type)
    warm = 20.0
    scenario = Scenario(
        args.instance_type, price, args.people_cost_per_hour, warm + args.cold_minus_warm_s, warm
    )
    jobs, ends = job_ends(args.trace)
    if not jobs:
        print(f"python -m bench.context: {args.trace}: no jobs to replay", file=sys.stderr)
        return 2
    split = (jobs[0].submit_s + jobs[-1].submit_s) / 2
    people = f"people ${args.people_cost_per_hour:g}/h"
    print(f"{args.trace.name}: {len(jobs)} jobs, {args.instance_type}, {people}")
    print("ratio to the oracle on the second half of the trace")
    print(f"  {'thresholds per':<36} {'fitted on the first half':>24} {'fitted in hindsight':>20}")
    before = [job for job in jobs if job.submit_s < split]
    per_pool = fit_thresholds(before, scenario, [""] * len(before))  # every context's fallback
    for name, key in CONTEXTS.items():
        out, ins = held_out(jobs, ends, key, scenario, split, per_pool)
        print(f"  {name:<36} {out:>24.3f} {ins:>20.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
