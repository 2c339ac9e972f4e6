"""`warmpool trace export`: the account's own training jobs as a trace `warmpool simulate` replays."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warmpool.cli.output import (
    ENDPOINT_HELP,
    REGION_HELP,
    examples,
    fail,
    given,
    iso_moment,
    unwritable,
)
from warmpool.domain.messages import counted

if TYPE_CHECKING:
    from warmpool.simulator.export import ExportedJob


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("trace", help="export the account's training jobs as a trace to simulate")
    commands = parser.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    export = commands.add_parser(
        "export",
        help="the finished training jobs created in a period, one CSV row each (docs/simulator.md)",
        description="The account's finished training jobs created in a period, one CSV row each, as a "
        "trace `warmpool simulate` replays; on stderr, what was left out and the command that replays it.",
        **examples(
            "warmpool trace export --days 28 --out mine.csv",
            "warmpool trace export --since 2026-11-01 --until 2026-11-15 --instance-type ml.g5.2xlarge",
            "warmpool trace export --days 28 "
            "| warmpool simulate - --instance-type trace --people-cost-per-hour 100",
        ),
    )
    period = export.add_mutually_exclusive_group()
    period.add_argument("--days", type=float, help="the jobs created in the last N days (default 14)")
    period.add_argument(
        "--since", help="the jobs created at or after this moment, ISO 8601 (UTC without an offset)"
    )
    export.add_argument(
        "--until",
        help="and before this moment, ISO 8601 (default: now); the job created at --until itself is the "
        "next period's",
    )
    export.add_argument(
        "--instance-type",
        help="only the jobs on this instance type (by default every type: simulate --instance-type trace "
        "prices each pool at its own)",
    )
    export.add_argument(
        "--out",
        metavar="FILE.csv",
        type=given("a .csv file, or drop --out for standard output"),
        help="write the trace here (default: standard output)",
    )
    export.add_argument(
        "--policy",
        type=given("a policy file, or drop --policy for the default tag names"),
        help="policy YAML whose tag names (tags.team, tags.owner) to read",
    )
    export.add_argument(
        "--workers",
        type=int,
        default=8,
        help="jobs described at once (default 8; throttled calls are retried, slower, by botocore)",
    )
    export.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help=ENDPOINT_HELP)
    export.add_argument("--region", default=None, help=REGION_HELP)
    export.set_defaults(run=run_export)


FIRST_YEAR = 1970  # of a period: near year 1 its moments overflowed, a traceback


def _period(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    until = iso_moment(args.until, "--until") if args.until else now
    since: datetime | None
    if args.since:
        since = iso_moment(args.since, "--since")
    else:
        days = 14.0 if args.days is None else args.days
        if not 0 < days <= 3650:
            raise ValueError(f"--days must be more than 0 and at most 3650, got {days:g}")
        try:
            since = until - timedelta(days=days)
        except OverflowError:  # `--until 0001-01-01` less 14 days
            since = None
    if since is None or since.year < FIRST_YEAR:  # SageMaker is asked from a second before it, too
        given = " ".join(
            f"--{flag} {getattr(args, flag)}" for flag in ("since", "until") if getattr(args, flag)
        )
        raise ValueError(
            f"{given}: the period reaches past the calendar's first day; give moments from {FIRST_YEAR} on"
        )
    if since >= until:
        raise ValueError(f"--since {since.isoformat()} is not before --until {until.isoformat()}")
    return since, until


class _NotWrittenError(Exception):
    """--out could not be written: the system's reason, and what is at --out now."""

    def __init__(self, error: OSError, left: str) -> None:
        super().__init__(error)
        self.reason = error.strerror or str(error)
        self.left = left


def _write_out(path: str, jobs: list[ExportedJob]) -> list[ExportedJob]:
    """The trace written to `path` (--out), whole or not at all where it can be. The write comes after
    every job was described, past the check that the file can be written: a disk that fills meanwhile
    cut the CSV after some rows, a trace that simulate replays as if it were the whole period. So a
    regular file (or none yet) is written beside it and renamed over it: left as it was, or not made.
    A symlink, a device or a pipe (`--out /dev/stdout`) is written to as named (renamed over, the link
    would be replaced, the device fail): a write that fails there is reported. Raises _NotWrittenError."""
    import stat
    import tempfile
    from contextlib import suppress

    from warmpool.simulator.export import write_trace

    target = Path(path)
    try:
        if target.is_symlink() or (target.exists() and not target.is_file()):
            try:
                with open(path, "w", newline="", encoding="utf-8") as handle:
                    return write_trace(jobs, handle)
            except OSError as exc:
                raise _NotWrittenError(exc, "what reached it is incomplete") from None
        existed = target.exists()
        # the mode the file has, or the one a file made afresh gets (the umask's)
        umask = os.umask(0o022)
        os.umask(umask)
        mode = stat.S_IMODE(target.stat().st_mode) if existed else 0o666 & ~umask
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _NotWrittenError(exc, "nothing there changed") from None
    try:
        with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
            rows = write_trace(jobs, handle)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(temporary)
        raise _NotWrittenError(exc, "the file is as it was" if existed else "no file was made") from None
    return rows


def run_export(args: argparse.Namespace) -> int:
    from warmpool.adapters.sagemaker import SageMakerAdapter
    from warmpool.cli.output import aws_client, cli_now
    from warmpool.domain.policy import PolicyError, load_policy_file
    from warmpool.domain.policy.document import PolicyDocument
    from warmpool.service.ports import JobNotFoundError
    from warmpool.simulator.export import exported_job, write_trace

    if not 1 <= args.workers <= 64:
        return fail(f"--workers must be 1 to 64, got {args.workers}")
    problem = unwritable(args.out, "--out") if args.out else None
    if problem:  # before every job is described, not after
        return fail(problem)
    try:
        # the period ends now as the jobs are timed: against warmpool emulator its virtual clock (on
        # the machine's, months on, the last 14 days held none of its jobs)
        since, until = _period(args, cli_now(None if args.until else args.endpoint_url))
        policy = load_policy_file(args.policy) if args.policy else PolicyDocument()
    except (ValueError, PolicyError) as exc:
        return fail(str(exc))
    sagemaker = SageMakerAdapter(aws_client("sagemaker", args.endpoint_url, args.region))
    names = sagemaker.list_job_names_created(since, until)
    jobs = []
    skipped: Counter[str] = Counter()
    progress = sys.stderr.isatty()

    def describe(name: str) -> ExportedJob | str:
        try:
            described: dict[str, Any] = sagemaker.describe_training_job(name)
        except JobNotFoundError:
            return "no longer described"
        tags = sagemaker.list_tags(described["TrainingJobArn"])
        row = exported_job(described, tags, team_tag=policy.tags.team, owner_tag=policy.tags.owner)
        if not isinstance(row, str) and args.instance_type and row.instance_type != args.instance_type:
            return f"on another instance type than {args.instance_type}"
        return row

    with ThreadPoolExecutor(max_workers=args.workers) as pool:  # boto3 clients are thread-safe
        described_rows = pool.map(describe, names)
        for done, row in enumerate(described_rows, start=1):
            if isinstance(row, str):
                skipped[row] += 1
            else:
                jobs.append(row)
            if progress and (done % 100 == 0 or done == len(names)):
                print(f"\rdescribed {done:,} of {len(names):,} jobs", end="", file=sys.stderr, flush=True)
    if progress and names:
        print(file=sys.stderr)
    left_out = ", ".join(f"{n:,} {why}" for why, n in sorted(skipped.items()))
    left_out = f"; left out: {left_out}" if left_out else ""
    if not jobs:
        return fail(
            f"no finished training jobs created between {since.isoformat()} and {until.isoformat()}"
            f"{left_out}: nothing to replay; widen the period with --days or --since",
            1,
        )
    if args.out:
        try:
            rows = _write_out(args.out, jobs)
        except _NotWrittenError as exc:
            return fail(
                f"--out {args.out}: the trace was not written ({exc.reason}); {exc.left}; export it again "
                "once there is room, or to another file",
                1,
            )
    else:
        rows = write_trace(jobs, sys.stdout)
        sys.stdout.flush()  # the trace before the summary, where both go to one terminal
    target = args.out or "TRACE.csv"
    print(
        f"{counted(len(rows), 'job')} in {counted(len({r.pool for r in rows}), 'pool')}, submitted from "
        f"{rows[0].submitted_at.isoformat()} to {rows[-1].submitted_at.isoformat()}{left_out}. Replay them "
        f"on their own clock and instance types: warmpool simulate {target} --instance-type "
        f"{args.instance_type or 'trace'} --start {rows[0].submitted_at.isoformat()}"
        # its prices, as the engine's: a type the built-in table does not price was refused without it
        + (f" --policy {args.policy}" if args.policy else ""),
        file=sys.stderr,
    )
    return 0
