"""Benchmark: every bundled synthetic trace and every CSV under ../shared/traces/ (when present), three
scenarios, all strategies; ratios to the oracle, simulation speed, and the lifecycle handler's import
time relative to importing boto3 alone. Results also go to bench-out/bench.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from warmpool.domain.pricing import price_per_hour
from warmpool.simulator.compare import compare
from warmpool.simulator.replay import Scenario
from warmpool.simulator.synthetic import bundled_traces
from warmpool.simulator.trace import load_trace

ROOT = Path(__file__).resolve().parents[1]
SHARED_TRACES = ROOT.parent / "shared" / "traces"
STRATEGIES = ("none", "fixed-600", "fixed-3600", "break-even", "adaptive", "oracle")
SCENARIOS = {
    "g5.2xl people $0/h": ("ml.g5.2xlarge", 0.0),
    "g5.2xl people $100/h": ("ml.g5.2xlarge", 100.0),
    "p4d.24xl people $100/h": ("ml.p4d.24xlarge", 100.0),
}


def import_seconds(statement: str, repeats: int = 5) -> float:
    """Median wall time of a fresh interpreter running `statement`, minus an empty interpreter."""

    def run(code: str) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            times.append(time.perf_counter() - started)
        return sorted(times)[len(times) // 2]

    return max(1e-6, run(statement) - run("pass"))


def main() -> int:
    traces = dict(bundled_traces())
    if SHARED_TRACES.is_dir():
        traces.update({p.stem: p for p in sorted(SHARED_TRACES.glob("*.csv"))})
    rows = []
    report: dict[str, object] = {"scenarios": {}, "import": {}}
    header = f"{'trace':<34} {'scenario':<24} " + " ".join(
        f"{s:>10}" for s in (*STRATEGIES[:-1], "static-best")
    )
    print(header)
    print("-" * len(header))
    for trace_name, path in traces.items():
        jobs = load_trace(path)
        for label, (instance_type, people) in SCENARIOS.items():
            scenario = Scenario(instance_type, price_per_hour(instance_type), people, 150.0, 20.0)
            started = time.perf_counter()
            result = compare(jobs, scenario, STRATEGIES, include_static_best=True)
            elapsed = time.perf_counter() - started
            ratios = {name: row["ratio_to_oracle"] for name, row in result["results"].items()}
            rows.append((trace_name, label, ratios, len(jobs), result["results"]["adaptive"]["seconds"]))
            report["scenarios"][f"{trace_name} | {label}"] = result  # type: ignore[index]
            cells = " ".join(f"{ratios[s]:>10.3f}" for s in (*STRATEGIES[:-1], "static-best"))
            print(f"{trace_name:<34} {label:<24} {cells}   ({elapsed:.1f} s)", flush=True)
    print()
    misses = []
    for trace_name, label, ratios, job_count, seconds in rows:
        others = [ratios[s] for s in ("fixed-600", "fixed-3600", "break-even", "static-best")]
        if ratios["adaptive"] > 1.20 or ratios["adaptive"] > min(others):
            misses.append(
                f"{trace_name} / {label}: adaptive {ratios['adaptive']:.3f}, best other {min(others):.3f}"
            )
        print(f"speed: {trace_name:<34} {label:<24} {job_count / max(seconds, 1e-9):>8.0f} jobs/s (adaptive)")
    boto3_s = import_seconds("import boto3")
    handler_s = import_seconds("import warmpool.handlers.lifecycle")
    handler_cold_s = import_seconds(
        "import warmpool.handlers.lifecycle as h; import warmpool.models.events, warmpool.service.lifecycle"
    )
    report["import"] = {
        "boto3_s": boto3_s,
        "handler_module_s": handler_s,
        "handler_first_use_s": handler_cold_s,
    }
    print(
        f"\nimport time: boto3 {boto3_s * 1000:.0f} ms; lifecycle handler module {handler_s * 1000:.0f} ms "
        f"({handler_s / boto3_s:.2f}x boto3); with its first-use imports {handler_cold_s * 1000:.0f} ms "
        f"({handler_cold_s / boto3_s:.2f}x)"
    )
    target = "met" if not misses else "NOT met for: " + "; ".join(misses)
    print(f"target (adaptive <= 1.20x oracle and below every fixed, break-even and static-best): {target}")
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    print(f"details: {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
