"""How much could context buy? Thresholds per pool and per context, fitted on one half of a trace and
scored on the other, against the same thresholds fitted on the half they are scored on.

A deliberately simple model, to isolate prediction from everything else: each job end is one cluster
that waits for the next arrival of its pool (`gap`); keeping it `T` seconds costs `c * gap` when the job
comes within `T`, else `c * T + P`; the oracle pays `min(c * gap, P)`. No concurrency, no steps.

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

from warmpool.domain.counterfactual import GRID  # the keep-alives a threshold is chosen from
from warmpool.domain.pricing import price_per_hour

NEVER = 1e12  # no later arrival in the pool


@dataclass(frozen=True)
class End:
    at: float
    pool: str
    gap: float  # to the pool's next arrival
    duration: float
    status: str
    group: str
    queued: bool
    hour: int
    arrivals_last_hour: int
    since_last_arrival: float


def job_ends(path: Path) -> list[End]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("status") != "Pending"]
    jobs = sorted((float(r["submit_time_s"]), float(r["duration_s"]), r["pool"], r) for r in rows)
    arrivals: dict[str, list[float]] = defaultdict(list)
    for submit, _, pool, _ in jobs:
        arrivals[pool].append(submit)
    ends = []
    for submit, duration, pool, row in jobs:
        at = submit + duration
        times = arrivals[pool]
        nxt = bisect.bisect_right(times, at)
        ends.append(
            End(
                at=at,
                pool=pool,
                gap=times[nxt] - at if nxt < len(times) else NEVER,
                duration=duration,
                status=row.get("status") or "",
                group=row.get("group") or "",
                queued=float(row.get("queue_s") or 0) > 0,
                hour=int(at % 86400 // 3600),
                arrivals_last_hour=nxt - bisect.bisect_left(times, at - 3600),
                since_last_arrival=at - times[nxt - 1] if nxt > 0 else NEVER,
            )
        )
    return ends


def _decade(seconds: float) -> int:
    return min(int(math.log10(seconds + 1)), 5)


Key = Callable[[End], Hashable]

CONTEXTS: dict[str, Key] = {
    "pool": lambda e: e.pool,
    "pool + ending job's status": lambda e: (e.pool, e.status),
    "pool + 6-hour block of the day": lambda e: (e.pool, e.hour // 6),
    "pool + arrivals in the last hour": lambda e: (e.pool, min(e.arrivals_last_hour, 3)),
    "pool + time since the last arrival": lambda e: (e.pool, _decade(e.since_last_arrival)),
    "pool + job duration (decade)": lambda e: (e.pool, _decade(e.duration)),
    "pool + QoS group": lambda e: (e.pool, e.group),
    "pool + job had queued": lambda e: (e.pool, e.queued),
}


def _cost(keep: float, gap: float, idle: float, penalty: float) -> float:
    return idle * gap if gap <= keep else idle * keep + penalty


def _fit(ends: Sequence[End], key: Key, idle: float, penalty: float) -> dict[Hashable, int]:
    groups: dict[Hashable, list[float]] = defaultdict(list)
    for end in ends:
        groups[key(end)].append(end.gap)
    best: dict[Hashable, int] = {}
    for k, gaps in groups.items():
        best[k] = min(GRID, key=lambda t: sum(_cost(t, g, idle, penalty) for g in gaps))
    return best


def held_out(ends: Sequence[End], key: Key, idle: float, penalty: float, split: float) -> tuple[float, float]:
    """(fitted before the split, fitted on the part scored), both as ratios to the oracle after it.
    A context not seen before the split falls back to its pool's threshold, then to the threshold
    fitted on every pool before the split."""
    before = [e for e in ends if e.at < split]
    after = [e for e in ends if e.at >= split]
    by_pool = _fit(before, lambda e: e.pool, idle, penalty)
    fitted = _fit(before, key, idle, penalty)
    hindsight = _fit(after, key, idle, penalty)
    fleet = _fit(before, lambda e: "", idle, penalty).get("", 0)
    oracle = sum(min(idle * e.gap, penalty) for e in after)
    out = sum(_cost(fitted.get(key(e), by_pool.get(e.pool, fleet)), e.gap, idle, penalty) for e in after)
    ins = sum(_cost(hindsight[key(e)], e.gap, idle, penalty) for e in after)
    return out / oracle, ins / oracle


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
    idle = price / 3600
    penalty = args.cold_minus_warm_s * (price + args.people_cost_per_hour) / 3600
    ends = job_ends(args.trace)
    split = (min(e.at for e in ends) + max(e.at for e in ends)) / 2 if ends else 0.0
    people = f"people ${args.people_cost_per_hour:g}/h"
    print(f"{args.trace.name}: {len(ends)} job ends, {args.instance_type}, {people}")
    print("ratio to the oracle on the second half of the trace")
    print(f"  {'thresholds per':<36} {'fitted on the first half':>24} {'fitted in hindsight':>20}")
    for name, key in CONTEXTS.items():
        out, ins = held_out(ends, key, idle, penalty, split)
        print(f"  {name:<36} {out:>24.3f} {ins:>20.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
