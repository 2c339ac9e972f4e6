"""`warmpool simulate TRACE.csv`: replay a job trace through warmpool's decision code."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from warmpool.cli.output import examples, given, unwritable
from warmpool.domain.messages import counted
from warmpool.domain.pricing import UnknownInstanceTypeError, price_per_hour
from warmpool.simulator import BREAKDOWNS

if TYPE_CHECKING:
    from warmpool.simulator.trace import TraceJob

EACH_JOB = "trace"  # --instance-type trace: each job on its own instance_type
MAX_START_S = 3600.0  # the longest start-up a policy's cold_start_seconds and warm_start_seconds take


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "simulate",
        help="replay a job trace and compare keep-alive strategies with the clairvoyant optimum",
        description="Replay a job trace through warmpool's decision code and compare keep-alive strategies "
        "with the clairvoyant optimum (docs/simulator.md). Columns: submit_time_s, duration_s, pool "
        "(required); user, team, instance_type, instance_count, status, submitted_at, keep_alive_s "
        "(optional; status Pending rows are skipped).",
        **examples(
            "warmpool simulate lambdas/warmpool/simulator/traces/hpo-sweep.csv --people-cost-per-hour 100",
            "warmpool simulate lambdas/warmpool/simulator/traces/experiment-team.csv "
            "--strategies none,fixed-600,adaptive,static-best --by team --plot team.png",
            "warmpool simulate lambdas/warmpool/simulator/traces/sparse.csv --policy policies/example.yaml "
            "--format json",
            "warmpool trace export --days 28 "
            "| warmpool simulate - --instance-type trace --people-cost-per-hour 100",
        ),
    )
    parser.add_argument(
        "trace", help="trace CSV file, or gzip-compressed (trace.csv.gz); - reads it from standard input"
    )
    parser.add_argument(
        "--instance-type",
        default="ml.g5.2xlarge",
        help="the instance type every job runs on, priced from the table or --policy's prices (default "
        f"ml.g5.2xlarge); '{EACH_JOB}' prices each pool at its jobs' own instance_type column",
    )
    parser.add_argument(
        "--price-per-hour", type=float, help="USD per instance-hour of --instance-type (overrides the table)"
    )
    # with --policy too: the replay prices every start, and every decision, at these (the policy's own
    # people_cost_per_hour and start-up seconds do not apply: docs/simulator.md); the help said neither
    # that nor, for the people's hour, its default
    instead = "; with --policy, this and not the policy's {} prices every start and decision"
    parser.add_argument(
        "--people-cost-per-hour",
        type=float,
        default=0.0,
        help="value of a waiting hour (USD; default 0)" + instead.format("people_cost_per_hour"),
    )
    parser.add_argument(
        "--cold-start-s",
        type=float,
        default=150.0,
        help="seconds a job waits starting cold (default 150)" + instead.format("cold_start_seconds"),
    )
    parser.add_argument(
        "--warm-start-s",
        type=float,
        default=20.0,
        help="seconds a job waits starting on a warm pool (default 20)"
        + instead.format("warm_start_seconds"),
    )
    parser.add_argument(
        "--policy",
        type=given("a policy file, or drop --policy to replay without one"),
        help="policy YAML: its rules apply (working hours, limits...), the oracle keeping only what they "
        "allow",
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        help="IANA time zone of the trace's clock and, without --policy, of the team's day, where "
        "adaptive learns the time of day (default UTC)",
    )
    parser.add_argument(
        "--start",
        help="the moment of the trace's second 0, ISO 8601; without an offset, in --timezone (default: "
        "from the trace's submitted_at column when it has one, as trace export writes, else "
        "2026-01-05T00:00, a Monday)",
    )
    parser.add_argument(
        "--strategies",
        default="none,fixed-600,fixed-3600,break-even,adaptive,oracle",
        help="comma-separated: none, fixed-<seconds>, break-even, adaptive, counterfactual, job (each "
        "job's keep_alive_s, as without warmpool: trace export writes the keep-alive SageMaker shows, in an "
        "account warmpool manages its last update), oracle, static-best (the best fixed keep-alive per "
        "pool, in hindsight); the oracle is always replayed "
        "(default: %(default)s)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    parser.add_argument(
        "--by",
        choices=BREAKDOWNS,
        help="also each group's part of every strategy's cost (a team's: what its own jobs caused, "
        "also on pools it shares)",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        type=given("a .png file, or drop --plot"),
        help="write idle cost against cold starts",
    )
    parser.add_argument("--progress", action="store_true", help="show progress even when stderr is not a TTY")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes replaying strategies side by side on traces of 2,000 jobs or more "
        "(default: one per CPU this process may use; 1 replays them one after the other)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from warmpool.domain.policy import PolicyError, load_policy_file
    from warmpool.domain.strategies import get_strategy
    from warmpool.simulator.compare import compare, default_workers, plot, table
    from warmpool.simulator.replay import Scenario
    from warmpool.simulator.trace import TraceError, pool_instance_types, read_trace

    problem = _bad_number(args) or (_bad_plot(args.plot) if args.plot else None)
    if problem:
        print(f"warmpool simulate: {problem}", file=sys.stderr)
        return 2
    try:
        start = _trace_start(args.timezone, args.start)
    except ValueError as exc:
        print(f"warmpool simulate: {exc}", file=sys.stderr)
        return 2
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not strategies:
        print("warmpool simulate: --strategies names none; e.g. --strategies none,adaptive", file=sys.stderr)
        return 2
    for name in strategies:
        if name not in ("oracle", "static-best"):
            try:
                written = get_strategy(name).name
            except ValueError as exc:
                print(f"warmpool simulate: --strategies: {exc}", file=sys.stderr)
                return 2
            if written != name:  # fixed-0600 replayed as a row of its own beside fixed-600's
                print(f"warmpool simulate: --strategies: write {name!r} as {written}", file=sys.stderr)
                return 2
    try:
        trace = read_trace(args.trace)
        jobs = trace.jobs
        if not jobs:  # else every cost is 0 and every ratio to the oracle 0/0
            raise TraceError(
                f"{trace.name}: no job to replay: "
                + (
                    f"every row ({counted(trace.pending, 'row')}) is Pending (never scheduled, skipped)"
                    if trace.pending
                    else "it has no row under its header"
                )
                + "; a trace has one row per job that ran"
            )
        if "job" in strategies:
            _each_keep_alive(jobs, trace.name)
        policy = load_policy_file(args.policy) if args.policy else None
        pool_types = pool_instance_types(jobs, trace.name) if args.instance_type == EACH_JOB else {}
        overrides = policy.prices if policy else None
        type_prices = _type_prices(jobs, pool_types, overrides, trace.name)
        if pool_types:
            price = 0.0  # every pool has its own type's price
        elif args.price_per_hour is not None:
            price = args.price_per_hour
        else:
            price = price_per_hour(args.instance_type, overrides)
    except (TraceError, PolicyError, UnknownInstanceTypeError) as exc:
        print(f"warmpool simulate: {exc}", file=sys.stderr)
        return 2
    if not pool_types:
        _say_other_types(jobs, args.instance_type)
    scenario = Scenario(
        args.instance_type,
        price,
        args.people_cost_per_hour,
        args.cold_start_s,
        args.warm_start_s,
        start=start if args.start or trace.start is None else trace.start,  # the trace's own clock
        timezone=args.timezone,
        pool_types=pool_types,
        type_prices=type_prices,
    )
    if args.workers is None:
        args.workers = default_workers()
    if args.workers < 1:
        print(f"warmpool simulate: --workers must be 1 or more, got {args.workers}", file=sys.stderr)
        return 2
    show = args.progress or sys.stderr.isatty()
    replays = len({*strategies, "oracle"} - {"static-best"})
    handled: dict[str, int] = {}

    def progress(strategy: str, done: int) -> None:
        handled[strategy] = done
        share = min(1.0, sum(handled.values()) / max(1, len(jobs) * replays))
        bar = "#" * int(share * 30)
        line = f"\r[{bar:<30}] {share:4.0%}  {strategy}: {done}/{len(jobs)} jobs"
        print(f"{line:<78}", end="", file=sys.stderr, flush=True)

    report = compare(
        jobs,
        scenario,
        [s for s in strategies if s != "static-best"],
        policy=policy,
        include_static_best="static-best" in strategies,
        progress=progress if show else None,
        workers=args.workers,
        by=args.by,
    )
    if show:
        print(file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(table(report))
    if args.plot:
        # After the comparison, not before it: the folder checked before the replay may be gone or full
        # by now, or matplotlib fail to render, and the replay's result was lost with a traceback.
        sys.stdout.flush()
        try:
            plot(
                report,
                args.plot,
                title=f"{Path(trace.name).name} ({_priced_as(args.instance_type)}, "
                f"people ${args.people_cost_per_hour:g}/h)",
            )
        except (OSError, ValueError, RuntimeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(
                f"warmpool simulate: --plot {args.plot}: not written ({reason}); the comparison is "
                "complete without it",
                file=sys.stderr,
            )
            return 1
    return 0


def _type_prices(
    jobs: Sequence[TraceJob], pool_types: Mapping[str, str], overrides: Mapping[str, float] | None, path: str
) -> dict[str, float]:
    """USD per instance-hour of each instance type the pools run on (--instance-type trace); an
    UnknownInstanceTypeError names the first line on a type without a price, and where to give one."""
    prices: dict[str, float] = {}
    for job in jobs:
        kind = pool_types.get(job.pool)
        if kind is None or kind in prices:
            continue
        try:
            prices[kind] = price_per_hour(kind, overrides)
        except UnknownInstanceTypeError:
            raise UnknownInstanceTypeError(kind, f"{path}:{job.line}", one_price=False) from None
    return prices


def _each_keep_alive(jobs: Sequence[TraceJob], path: str) -> None:
    """A TraceError when a job has no keep-alive of its own for `--strategies job` to keep: without
    one, each was replayed as keeping nothing, the `none` column under another name."""
    from warmpool.simulator.trace import TraceError

    missing = [job for job in jobs if job.keep_alive_s is None]
    if len(missing) == len(jobs):
        raise TraceError(
            "--strategies job replays each job's own keep-alive, from the trace's keep_alive_s column "
            f"(trace export writes it), and {path} has none: add it, or drop job"
        )
    if missing:
        line = min(job.line for job in missing)
        raise TraceError(
            f"{path}:{line}: column 'keep_alive_s' is empty; --strategies job replays each job's own "
            "keep-alive: fill it in (0 for a job that asked for none), or drop job"
        )


def _say_other_types(jobs: Sequence[TraceJob], instance_type: str) -> None:
    """A line on stderr when the trace's `instance_type` column names other types than the one every job
    is replayed as: a trace of p4d jobs was priced at g5 without a word, `--instance-type trace` unsaid."""
    other = sorted({job.instance_type for job in jobs if job.instance_type not in (None, instance_type)})
    if other:
        names = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
        count = sum(1 for job in jobs if job.instance_type not in (None, instance_type))
        print(
            f"warmpool simulate: column instance_type is not {instance_type} for {count:,} of "
            f"{counted(len(jobs), 'job')} ({names}); every job is replayed as {instance_type} "
            f"(--instance-type): --instance-type {EACH_JOB} prices each at its own",
            file=sys.stderr,
        )


def _priced_as(instance_type: str) -> str:
    return "each job's instance type" if instance_type == EACH_JOB else instance_type


def _bad_number(args: argparse.Namespace) -> str | None:
    """What is wrong with the scenario's numbers, naming the flag and the fix; None when nothing is.
    A negative price or a cold start no slower than a warm one would replay to costs that mean nothing."""
    from warmpool.domain.policy.document import MAX_USD_PER_HOUR

    checks = (
        ("--price-per-hour", args.price_per_hour, "a price in USD per instance-hour above 0", True),
        ("--people-cost-per-hour", args.people_cost_per_hour, "USD per waiting hour, 0 or more", False),
        ("--cold-start-s", args.cold_start_s, "seconds, 0 or more", False),
        ("--warm-start-s", args.warm_start_s, "seconds, 0 or more", False),
    )
    for flag, value, wanted, positive in checks:
        if value is None:
            continue
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            return f"{flag} must be {wanted}, got {value:g}"
        # 1e308 passed and every cost overflowed to inf: a traceback from the adaptive strategy, or a
        # table of 300-digit dollars; a start-up over an hour was a policy's validation error, a traceback
        most, unit = (MAX_START_S, "seconds") if flag.endswith("-s") else (MAX_USD_PER_HOUR, "USD per hour")
        if value > most:
            why = (
                " (as a policy's start-up seconds)"
                if unit == "seconds"
                else ": a price in cents, or per year?"
            )
            return f"{flag} must be at most {most:,.0f} {unit}, got {value:g}{why}"
    if args.instance_type == EACH_JOB and args.price_per_hour is not None:
        return (
            f"--price-per-hour prices one instance type; with --instance-type {EACH_JOB} each job is priced "
            "at its own: give prices per type under `prices` in a --policy file, or drop --price-per-hour"
        )
    if args.cold_start_s <= args.warm_start_s:
        return (
            f"--cold-start-s ({args.cold_start_s:g}) must be longer than --warm-start-s "
            f"({args.warm_start_s:g}): a warm start saves their difference, which prices every cold start"
        )
    return None


def _trace_start(timezone: str, start: str | None) -> datetime:
    """The moment of the trace's second 0; a ValueError says what is wrong with --timezone or --start."""
    from zoneinfo import ZoneInfo

    from warmpool.domain.policy.document import known_zone
    from warmpool.simulator.replay import DEFAULT_START
    from warmpool.simulator.trace import CLOCK_RANGE, CLOCK_YEARS

    try:
        zone = ZoneInfo(known_zone(timezone))
    except ValueError as exc:
        raise ValueError(f"--timezone: {exc}") from None
    try:
        moment = datetime.fromisoformat(start) if start else DEFAULT_START.replace(tzinfo=None)
    except ValueError:
        raise ValueError(
            f"--start {start!r} is not an ISO 8601 date or time; e.g. 2026-01-05T00:00 (in --timezone) "
            "or 2026-01-05T00:00-08:00"
        ) from None
    if moment.year not in CLOCK_YEARS:
        raise ValueError(f"--start {start!r} is out of the replay's range: {CLOCK_RANGE}")
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _bad_plot(path: str) -> str | None:
    """What is wrong with --plot, checked before the replay rather than after it. matplotlib is not a
    dependency of warmpool (the Lambdas need none): without it, --plot was a ModuleNotFoundError."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return (
            f"--plot {path}: needs matplotlib, which is not installed: pip install matplotlib, or drop --plot"
        )

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        return f"--plot {path}: name a .png file (or one of .{', .'.join(sorted(formats))})"
    return unwritable(path, "--plot")
