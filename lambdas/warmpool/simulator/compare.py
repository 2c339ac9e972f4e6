"""Run several strategies over one trace and report them against the clairvoyant optimum."""

from __future__ import annotations

import multiprocessing
import os
import queue
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import asdict
from functools import partial
from typing import Any

from warmpool.domain.messages import counted
from warmpool.domain.policy.document import PolicyDocument
from warmpool.simulator import BREAKDOWNS
from warmpool.simulator.replay import Part, Scenario, StrategyResult, replay, static_best
from warmpool.simulator.trace import TraceJob

DEFAULT_STRATEGIES = ("none", "fixed-600", "fixed-3600", "break-even", "adaptive", "oracle")
STATIC_BEST = "static-best"
PARALLEL_MIN_JOBS = 2000  # below it, starting worker processes costs more than it saves
NO_TEAM = "(no team)"


def default_workers() -> int:
    """The CPUs this process may run on (its affinity, where the system tells it), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


_worker: dict[str, Any] = {}  # in a worker process: "ticks", the queue its replays report progress to


def _start_worker(ticks: Any) -> None:
    _worker["ticks"] = ticks


def _run(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    strategy: str,
    policy: PolicyDocument | None,
    tick: Callable[[int], None] | None,
) -> tuple[StrategyResult, float]:
    """One strategy's replay (or the static-best bound), and how long it took."""
    started = time.perf_counter()
    if strategy == STATIC_BEST:
        return static_best(jobs, scenario, policy), time.perf_counter() - started
    result = replay(jobs, scenario, strategy, policy=policy, progress=tick)
    seconds = time.perf_counter() - started
    if tick is not None:
        tick(len(jobs))  # done: the replay itself reports every 1,000 jobs
    return result, seconds


def _run_in_worker(
    jobs: Sequence[TraceJob], scenario: Scenario, strategy: str, policy: PolicyDocument | None
) -> tuple[StrategyResult, float]:
    ticks = _worker.get("ticks")
    return _run(jobs, scenario, strategy, policy, (lambda n: ticks.put((strategy, n))) if ticks else None)


def compare(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    *,
    policy: PolicyDocument | None = None,
    include_static_best: bool = False,
    progress: Callable[[str, int], None] | None = None,
    workers: int = 1,
    parallel_min_jobs: int = PARALLEL_MIN_JOBS,
    by: str | None = None,
) -> dict[str, Any]:
    """The `--format json` document: {"scenario": {...}, "results": {strategy: {...}}}; with `by` (one
    of BREAKDOWNS) also {"by_<by>": {group: {"jobs", "pools", "results": {strategy: {...}}}}}, each
    group's part of every result (a team's: what its own jobs caused), its ratio to the oracle's cost
    of the same part.

    With `workers` > 1 and a trace of `parallel_min_jobs` jobs or more, the strategies replay side by side
    in that many processes; the results are the same (each replay is deterministic), the per-strategy
    `seconds` are then measured on a shared machine."""
    wanted = list(dict.fromkeys([*strategies, "oracle"]))
    tasks = [*wanted, STATIC_BEST] if include_static_best else wanted
    if workers > 1 and len(tasks) > 1 and len(jobs) >= parallel_min_jobs:
        done = _in_parallel(jobs, scenario, tasks, policy, progress, min(workers, len(tasks)))
    else:
        done = {
            strategy: _run(
                jobs, scenario, strategy, policy, partial(progress, strategy) if progress else None
            )
            for strategy in tasks
        }
    results = {name: done[name][0] for name in tasks}
    timings = {name: done[name][1] for name in tasks}
    oracle = results["oracle"].total_cost_usd
    scenario_json = {
        k: v for k, v in asdict(scenario).items() if k not in ("limits", "start", "pool_types", "type_prices")
    }
    if scenario.pool_types:  # --instance-type trace: each pool at its own type's price
        scenario_json["price_per_hour"] = None
        scenario_json["prices_per_hour"] = dict(sorted(scenario.type_prices.items()))
        scenario_json["pools_per_instance_type"] = dict(sorted(Counter(scenario.pool_types.values()).items()))
    scenario_json.update(
        jobs=len(jobs),
        start=scenario.start.isoformat(),
        max_step_seconds=scenario.limits.max_step_seconds,
        max_lifetime_seconds=scenario.limits.max_lifetime_seconds,
    )
    report: dict[str, Any] = {
        "scenario": scenario_json,
        "results": {
            name: {**result.to_json(oracle), "seconds": round(timings[name], 3)}
            for name, result in results.items()
            if name in wanted or name == STATIC_BEST
        },
    }
    if by is not None:
        report[f"by_{by}"] = _breakdown(jobs, scenario, results, by)
    return report


def _breakdown(
    jobs: Sequence[TraceJob], scenario: Scenario, results: dict[str, StrategyResult], by: str
) -> dict[str, Any]:
    """Each group's part of every result. A team's part is what its own jobs caused (`Part`): their
    starts, and the idle time their ends left, also on a pool it shares with other teams; its `pools`
    are the pools its jobs ran on. An instance type's or a pool's part is all of its pools'."""
    if by not in BREAKDOWNS:
        raise ValueError(f"cannot break results down by {by!r}; use one of {', '.join(BREAKDOWNS)}")
    parts: dict[str, dict[Part, None]] = {}  # group -> its parts, in the order of their first jobs
    pools: dict[str, dict[str, None]] = {}
    jobs_in: Counter[str] = Counter()
    for job in jobs:
        named = {"team": job.team or NO_TEAM, "instance_type": scenario.type_of(job.pool)}
        name = named.get(by, job.pool)
        parts.setdefault(name, {})[(job.pool, job.team)] = None
        pools.setdefault(name, {})[job.pool] = None
        jobs_in[name] += 1
    out: dict[str, Any] = {}
    for name in sorted(parts):
        split = {strategy: result.of_parts(parts[name], scenario) for strategy, result in results.items()}
        oracle = split["oracle"].total_cost_usd
        out[name] = {
            "jobs": jobs_in[name],
            "pools": len(pools[name]),
            "results": {strategy: part.to_json(oracle) for strategy, part in split.items()},
        }
    return out


def _in_parallel(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    tasks: Sequence[str],
    policy: PolicyDocument | None,
    progress: Callable[[str, int], None] | None,
    workers: int,
) -> dict[str, tuple[StrategyResult, float]]:
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    ticks = context.Queue() if progress else None
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(ticks,)
    ) as executor:
        # the slow ones first (static-best's 16 replays, the learning strategies), so that no worker is
        # left with one of them when the others are done
        fixed = ("none", "oracle", "break-even")
        order = sorted(tasks, key=lambda name: name in fixed or name.startswith("fixed-"))
        futures: dict[str, Future[tuple[StrategyResult, float]]] = {
            name: executor.submit(_run_in_worker, jobs, scenario, name, policy) for name in order
        }
        if ticks is None or progress is None:
            wait(futures.values())
            return {name: futures[name].result() for name in tasks}
        while not all(f.done() for f in futures.values()):
            try:
                progress(*ticks.get(timeout=0.1))
            except queue.Empty:
                continue
        results = {name: futures[name].result() for name in tasks}
    while True:  # the last reports may come after the results
        try:
            progress(*ticks.get(timeout=0.1))
        except queue.Empty:
            return results


TITLE_WIDTH = 64  # characters a title line holds in the figure; a longer title wraps


def figure(report: dict[str, Any], title: str = "") -> Any:
    """Idle cost against cold starts, one point per strategy, the oracle (a star) and the static-best bound
    (a diamond: a choice in hindsight, not a strategy) marked; every label inside the image (a point on
    the right half is labelled on its left), a long title wrapped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    rows = report["results"]
    colds = [row["cold_starts"] for row in rows.values()]
    costs = [row["idle_cost_usd"] for row in rows.values()]
    middle = (min(colds) + max(colds)) / 2 if colds else 0
    span_x = (max(colds) - min(colds)) or 1 if colds else 1
    span_y = (max(costs) - min(costs)) or 1 if costs else 1
    markers = {"oracle": "*", STATIC_BEST: "D"}
    labelled: list[tuple[float, float]] = []
    for name, row in sorted(rows.items(), key=lambda kv: kv[1]["idle_cost_usd"]):
        x, y = row["cold_starts"], row["idle_cost_usd"]
        ax.scatter(x, y, s=120 if name == "oracle" else 50, marker=markers.get(name, "o"))
        left = x > middle
        # points close together (the learners often are) get their labels one above the other
        near = sum(1 for lx, ly in labelled if abs(lx - x) < 0.06 * span_x and abs(ly - y) < 0.08 * span_y)
        labelled.append((x, y))
        what = f"{name}, in hindsight" if name == STATIC_BEST else name
        ratio = row["ratio_to_oracle"]
        ax.annotate(
            what if ratio is None else f"{what} ({ratio}x)",
            (x, y),
            textcoords="offset points",
            xytext=(-6 if left else 6, 4 + 10 * near),
            ha="right" if left else "left",
            fontsize=8,
        )
    ax.margins(x=0.08, y=0.12)
    ax.set_xlabel("cold starts")
    ax.set_ylabel("idle cost (USD)")
    text = title or "keep-alive strategies: idle cost against cold starts"
    ax.set_title("\n".join(textwrap.wrap(text, TITLE_WIDTH, break_on_hyphens=False)), fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot(report: dict[str, Any], path: str, title: str = "") -> None:
    """`figure`, written to `path` (PNG, or any format matplotlib infers from the name)."""
    import matplotlib.pyplot as plt

    fig = figure(report, title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(report: dict[str, Any]) -> str:
    """The results, cheapest first; then, with a breakdown, the same table for each group."""
    lines = [_results_table(report["results"])]
    for key in (f"by_{by}" for by in BREAKDOWNS):
        for name, group in report.get(key, {}).items():
            what = key.removeprefix("by_").replace("_", " ")
            size = f"{counted(group['jobs'], 'job')} in {counted(group['pools'], 'pool')}"
            lines.append(f"\n{what} {name}: {size}")
            lines.append(_results_table(group["results"]))
    return "\n".join(lines)


# the text table's columns after the strategy's: header, narrowest width, the row's cell
_COLUMNS: tuple[tuple[str, int, Callable[[dict[str, Any]], str]], ...] = (
    ("total $", 10, lambda row: f"{row['total_cost_usd']:.2f}"),
    ("x oracle", 9, lambda row: _ratio(row["ratio_to_oracle"])),
    ("idle inst-h", 12, lambda row: f"{row['idle_instance_seconds'] / 3600:.1f}"),
    ("cold", 6, lambda row: str(row["cold_starts"])),
    ("warm", 6, lambda row: str(row["warm_starts"])),
    ("updates", 8, lambda row: str(row["keepalive_updates"])),
)


def _results_table(results: dict[str, Any]) -> str:
    """Cheapest first; each column as wide as its widest cell (a long strategy name, a cost in the
    billions: the value pushed its row past the header, and every column after it moved right)."""
    ordered = sorted(results.items(), key=lambda kv: kv[1]["total_cost_usd"])
    cells = [[name, *(cell(row) for _, _, cell in _COLUMNS)] for name, row in ordered]
    titles = ["strategy", *(title for title, _, _ in _COLUMNS)]
    narrowest = [12, *(width for _, width, _ in _COLUMNS)]
    widths = [
        max(low, len(title), *(len(r[i]) for r in cells))
        for i, (title, low) in enumerate(zip(titles, narrowest, strict=True))
    ]

    def line(values: Sequence[str]) -> str:
        first, *rest = values
        aligned = (f"{value:>{width}}" for value, width in zip(rest, widths[1:], strict=True))
        return " ".join([f"{first:<{widths[0]}}", *aligned])

    header = line(titles)
    return "\n".join([header, "-" * len(header), *(line(r) for r in cells)])


def _ratio(ratio: float | None) -> str:
    """`x oracle`: `-` when the oracle's cost (of the whole or of a group's part) is nothing, where JSON
    has null; it read 0.000, the best a strategy can do, for a strategy that cost more than nothing."""
    return "-" if ratio is None else f"{ratio:.3f}"
