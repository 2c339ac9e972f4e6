"""`warmpool demo`: the whole system on this machine, one scripted day, checked."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warmpool.cli.output import examples, given


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run a day of three teams through warmpool, locally, and check it",
        description="A scripted day of three teams through the real handlers, on moto with the warm-pool "
        "emulator, in virtual time: the timeline, a cost summary, an HTML report, and checks (exit 1 when "
        "one fails). No AWS account needed; 10-40 s.",
        **examples("warmpool demo", "warmpool demo --out demo-out --policy policies/example.yaml"),
    )
    parser.add_argument(
        "--out",
        default="demo-out",
        type=given("a folder for the report, or drop --out for demo-out/"),
        help="where the HTML report goes (default demo-out/)",
    )
    parser.add_argument(
        "--policy",
        default=None,
        type=given("a policy file, or drop --policy for policies/example.yaml"),
        help="policy YAML (default: policies/example.yaml)",
    )
    parser.set_defaults(run=run)


def _default_policy() -> Path:
    here = Path.cwd() / "policies" / "example.yaml"
    if here.is_file():
        return here
    return Path(__file__).resolve().parents[3] / "policies" / "example.yaml"


def run(args: argparse.Namespace) -> int:
    with _quiet():
        return _run(args)


@contextmanager
def _quiet() -> Iterator[None]:
    """The handlers log JSON lines and print metrics in Lambda; the demo prints its own timeline instead.
    As it was once the demo is over: `main(["demo"])` called in a process that goes on (a test, a
    notebook) leaves its logs and metrics as they were, not silenced for good."""
    import logging
    import os

    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    before = {key: os.environ.get(key) for key in quiet}
    for key, value in quiet.items():
        os.environ.setdefault(key, value)
    log = logging.getLogger("warmpool")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)
        for key, was in before.items():
            if was is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = was


def _run(args: argparse.Namespace) -> int:
    from warmpool.demo.runner import print_result, run_demo
    from warmpool.domain.policy import PolicyError, load_policy_file

    policy = Path(args.policy) if args.policy else _default_policy()
    if policy.is_dir():
        print(f"warmpool demo: --policy {policy} is a folder; name a policy file in it", file=sys.stderr)
        return 2
    if not policy.is_file():
        print(f"warmpool demo: policy file {policy} not found; pass --policy FILE", file=sys.stderr)
        return 2
    try:  # before the day is replayed: the local stack would stop at it with a traceback
        load_policy_file(policy)
    except PolicyError as exc:
        print(f"warmpool demo: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:  # before the day is replayed, not after: the report is what it is for
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"warmpool demo: --out {out}: cannot create it ({exc.strerror}); pass a writable directory",
            file=sys.stderr,
        )
        return 2
    report = out / "report.html"
    existed = report.exists()
    try:  # a folder there is not one the report can be written to: a read-only one, or a report.html
        with report.open("a", encoding="utf-8"):  # folder in it, failed with a traceback after the day
            pass
    except OSError as exc:
        print(
            f"warmpool demo: --out {out}: cannot write {report} ({exc.strerror}); pass a writable directory",
            file=sys.stderr,
        )
        return 2
    if not existed:
        report.unlink()
    started = time.perf_counter()
    result = run_demo(out, policy, say=lambda line: print(line, flush=True))
    print_result(result)
    print(f"finished in {time.perf_counter() - started:.1f} s")
    return 0 if result.ok else 1
