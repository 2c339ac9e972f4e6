"""Run several strategies over one trace and report them against the clairvoyant optimum."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from warmpool.domain.policy.document import PolicyDocument
from warmpool.simulator.replay import Scenario, StrategyResult, replay, static_best
from warmpool.simulator.trace import TraceJob

DEFAULT_STRATEGIES = ("none", "fixed-600", "fixed-3600", "break-even", "adaptive", "oracle")


def compare(
    jobs: Sequence[TraceJob],
    scenario: Scenario,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    *,
    policy: PolicyDocument | None = None,
    include_static_best: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """The `--format json` document: {"scenario": {...}, "results": {strategy: {...}}}."""
    results: dict[str, StrategyResult] = {}
    timings: dict[str, float] = {}
    wanted = list(dict.fromkeys([*strategies, "oracle"]))
    for strategy in wanted:
        started = time.perf_counter()
        tick = (lambda n, s=strategy: progress(s, n)) if progress else None
        results[strategy] = replay(jobs, scenario, strategy, policy=policy, progress=tick)
        timings[strategy] = time.perf_counter() - started
    if include_static_best:
        started = time.perf_counter()
        results["static-best"] = static_best(jobs, scenario, policy)
        timings["static-best"] = time.perf_counter() - started
    oracle = results["oracle"].total_cost_usd
    scenario_json = {k: v for k, v in asdict(scenario).items() if k not in ("limits", "start")}
    scenario_json.update(
        jobs=len(jobs),
        start=scenario.start.isoformat(),
        max_step_seconds=scenario.limits.max_step_seconds,
        max_lifetime_seconds=scenario.limits.max_lifetime_seconds,
    )
    return {
        "scenario": scenario_json,
        "results": {
            name: {**result.to_json(oracle), "seconds": round(timings[name], 3)}
            for name, result in results.items()
            if name in wanted or name == "static-best"
        },
    }


def plot(report: dict[str, Any], path: str, title: str = "") -> None:
    """Idle cost against cold starts, one point per strategy, the oracle marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, row in report["results"].items():
        if name == "static-best":
            continue
        marker = "*" if name == "oracle" else "o"
        ax.scatter(row["cold_starts"], row["idle_cost_usd"], s=120 if name == "oracle" else 50, marker=marker)
        ax.annotate(
            f"{name} ({row['ratio_to_oracle']}x)",
            (row["cold_starts"], row["idle_cost_usd"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    ax.set_xlabel("cold starts")
    ax.set_ylabel("idle cost (USD)")
    ax.set_title(title or "keep-alive strategies: idle cost against cold starts")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(report: dict[str, Any]) -> str:
    width = max(12, *(len(name) for name in report["results"]))
    header = (
        f"{'strategy':<{width}} {'total $':>10} {'x oracle':>9} {'idle inst-h':>12} "
        f"{'cold':>6} {'warm':>6} {'updates':>8}"
    )
    lines = [header, "-" * len(header)]
    for name, row in sorted(report["results"].items(), key=lambda kv: kv[1]["total_cost_usd"]):
        lines.append(
            f"{name:<{width}} {row['total_cost_usd']:>10.2f} {row['ratio_to_oracle'] or 0:>9.3f} "
            f"{row['idle_instance_seconds'] / 3600:>12.1f} {row['cold_starts']:>6} {row['warm_starts']:>6} "
            f"{row['keepalive_updates']:>8}"
        )
    return "\n".join(lines)
