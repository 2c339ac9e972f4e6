"""`warmpool emulator --port N`: moto's server with the SageMaker warm-pool extension."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("emulator", help="run moto's server with the SageMaker warm-pool emulator")
    parser.add_argument("--port", type=int, default=5000, help="TCP port on 127.0.0.1 (default 5000)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise SystemExit("warmpool emulator: not built yet")
