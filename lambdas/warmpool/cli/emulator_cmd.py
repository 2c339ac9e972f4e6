"""`warmpool emulator --port N`: moto's server with the SageMaker warm-pool emulator."""

from __future__ import annotations

import argparse
import math
import sys
import threading

from warmpool.cli.output import examples

# SageMaker's own limits (today's AWS docs): a setting above them emulates a service that refuses what
# SageMaker takes, or takes what it refuses
MAX_KEEP_ALIVE_SECONDS = 3600
MAX_LIFETIME_DAYS = 28.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "emulator",
        help="run moto's server with the SageMaker warm-pool emulator",
        description="Serve every AWS API moto knows, with SageMaker warm pools emulated, on 127.0.0.1. "
        "Control the virtual clock and jobs with POST /_warmpool/<method> (see docs/emulator.md).",
        **examples(
            "warmpool emulator --port 5000",
            "warmpool emulator --port 5000 --quota 0",
            "curl -X POST localhost:5000/_warmpool/advance -d '{\"seconds\": 600}'",
        ),
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="TCP port on 127.0.0.1 (default 5000, 0 = any)"
    )
    parser.add_argument(
        "--max-keep-alive",
        type=int,
        default=MAX_KEEP_ALIVE_SECONDS,
        help=f"maximum KeepAlivePeriodInSeconds, 1 to {MAX_KEEP_ALIVE_SECONDS}, SageMaker's own limit "
        f"(default {MAX_KEEP_ALIVE_SECONDS})",
    )
    parser.add_argument(
        "--max-lifetime-days",
        type=float,
        default=MAX_LIFETIME_DAYS,
        help=f"maximum warm-pool lifetime in days, a second to {MAX_LIFETIME_DAYS:g}, SageMaker's own "
        f"limit in today's AWS docs (default {MAX_LIFETIME_DAYS:g})",
    )
    parser.add_argument(
        "--quota",
        type=int,
        default=64,
        help="warm instances allowed per instance type (default 64; 0, as in a new account, allows none)",
    )
    parser.set_defaults(run=run)


def _usage(message: str) -> int:
    """A setting that makes no sense: a usage error, exit 2 as argparse's own and every other command's
    (raised as SystemExit's text, it exited 1, the code of a failure)."""
    print(f"warmpool emulator: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return _usage(f"--port must be within 0..65535, got {args.port}")
    if not 1 <= args.max_keep_alive <= MAX_KEEP_ALIVE_SECONDS:
        return _usage(
            f"--max-keep-alive must be within 1..{MAX_KEEP_ALIVE_SECONDS} seconds (SageMaker's is "
            f"{MAX_KEEP_ALIVE_SECONDS}), got {args.max_keep_alive}"
        )
    days = args.max_lifetime_days
    if not (math.isfinite(days) and days * 86400 >= 1 and days <= MAX_LIFETIME_DAYS):
        return _usage(
            f"--max-lifetime-days must be above 0 (a second or more) and at most {MAX_LIFETIME_DAYS:g} "
            f"({MAX_LIFETIME_DAYS:g} in today's AWS docs), got {days:g}"
        )
    if args.quota < 0:
        return _usage(
            f"--quota must be 0 or more warm instances per type (0, as in a new account, allows no warm "
            f"pool), got {args.quota}"
        )
    from warmpool.emulator import EmulatorConfig, EmulatorServer, WarmPoolEmulator, install, uninstall

    config = EmulatorConfig(
        max_keep_alive_seconds=args.max_keep_alive,
        max_lifetime_seconds=int(args.max_lifetime_days * 86400),
        default_quota=args.quota,
    )
    emulator = WarmPoolEmulator(config)
    install(emulator)
    server = EmulatorServer(emulator, port=args.port)
    try:
        url = server.start()
    except OSError as exc:
        uninstall()
        raise SystemExit(
            f"warmpool emulator: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}"
        ) from None
    print(
        f"warm-pool emulator listening on {url} (virtual clock at {emulator.now().isoformat()})", flush=True
    )
    print(  # the line to copy: with `endpoint_url=URL`, a name the reader's Python does not know
        f"use it with: boto3.client('sagemaker', endpoint_url='{url}', region_name='us-east-1'); "
        "Ctrl-C stops it",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        uninstall()
    return 0
