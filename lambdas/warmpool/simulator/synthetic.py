"""Small synthetic traces shipped with the project, so the bench, tests and demo never need real data.

`python -m warmpool.simulator.synthetic` regenerates them (fixed seeds: the files are reproducible).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from pathlib import Path

DAY = 86400.0
TRACES_DIR = Path(__file__).parent / "traces"
Row = dict[str, object]


def experiment_team(seed: int = 7, days: int = 14) -> list[Row]:
    """Three scientists iterating on models in working hours: bursts of short gaps, quiet nights."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for user, pool in (("alice", "vision-g5"), ("bob", "vision-g5"), ("dana", "vision-g5x2")):
        for day in range(days):
            if day % 7 >= 5 and rng.random() < 0.8:
                continue  # weekends are mostly quiet
            t = day * DAY + 8.5 * 3600 + rng.uniform(0, 2 * 3600)
            end_of_day = day * DAY + 18.5 * 3600
            while t < end_of_day:
                duration = rng.uniform(8, 45) * 60
                rows.append(
                    {
                        "submit_time_s": round(t),
                        "duration_s": round(duration),
                        "pool": pool,
                        "user": user,
                        "team": "vision",
                        "instance_type": "ml.g5.2xlarge",
                        "instance_count": 2 if pool.endswith("x2") else 1,
                    }
                )
                think = rng.expovariate(1 / (12 * 60)) if rng.random() < 0.8 else rng.uniform(1, 3) * 3600
                t += duration + think
    return rows


def hpo_sweep(seed: int = 11, days: int = 7) -> list[Row]:
    """Hyperparameter sweeps: runs of 20-40 trials back to back, a few sweeps a day."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for day in range(days):
        for sweep in range(rng.randint(1, 3)):
            t = day * DAY + rng.uniform(0, 20 * 3600)
            for _ in range(rng.randint(20, 40)):
                duration = rng.uniform(4, 15) * 60
                rows.append(
                    {
                        "submit_time_s": round(t),
                        "duration_s": round(duration),
                        "pool": f"hpo-{sweep % 2}",
                        "user": "sweeper",
                        "team": "research",
                        "instance_type": "ml.g5.2xlarge",
                        "instance_count": 1,
                    }
                )
                t += duration + rng.uniform(20, 120)
    return rows


def sparse(seed: int = 13, days: int = 21) -> list[Row]:
    """Occasional jobs hours apart: keeping a pool warm rarely pays."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for pool in ("nightly-eval", "adhoc-a", "adhoc-b"):
        t = rng.uniform(0, 6 * 3600)
        while t < days * DAY:
            duration = rng.uniform(10, 90) * 60
            rows.append(
                {
                    "submit_time_s": round(t),
                    "duration_s": round(duration),
                    "pool": pool,
                    "user": "ops",
                    "team": "platform",
                    "instance_type": "ml.g5.2xlarge",
                    "instance_count": 1,
                }
            )
            t += duration + rng.uniform(2, 14) * 3600
    return rows


GENERATORS: dict[str, Callable[[], list[Row]]] = {
    "experiment-team": experiment_team,
    "hpo-sweep": hpo_sweep,
    "sparse": sparse,
}


COLUMNS = ["submit_time_s", "duration_s", "pool", "user", "team", "instance_type", "instance_count"]


def bundled_traces() -> dict[str, Path]:
    return {name: TRACES_DIR / f"{name}.csv" for name in GENERATORS}


def large_fleet(min_jobs: int = 10_000, seed: int = 1) -> list[Row]:
    """A fleet of many teams (all three kinds, each with its own pools) with at least `min_jobs` jobs:
    what the benchmark times the simulator on."""
    rows: list[Row] = []
    copy = 0
    while len(rows) < min_jobs:
        for generate in (experiment_team, hpo_sweep, sparse):
            for row in generate(seed + copy, 28):
                rows.append({**row, "pool": f"{row['pool']}-{copy}", "team": f"{row['team']}-{copy}"})
        copy += 1
    return sorted(rows, key=lambda r: float(str(r["submit_time_s"])))


def write_all(directory: Path = TRACES_DIR) -> None:
    """Write every bundled trace into `directory` (the package's traces/ folder by default)."""
    for name, generate in GENERATORS.items():
        rows = sorted(generate(), key=lambda r: float(str(r["submit_time_s"])))
        with (directory / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    write_all()
