"""`warmpool`: the command-line entry point. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from warmpool import __version__
from warmpool.cli import demo_cmd, emulator_cmd, policy_cmd, pools_cmd, simulate_cmd, trace_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warmpool",
        description="Lifecycle manager for Amazon SageMaker Training Managed Warm Pools.",
    )
    parser.add_argument("--version", action="version", version=f"warmpool {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (demo_cmd, emulator_cmd, policy_cmd, pools_cmd, simulate_cmd, trace_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    from warmpool.cli.output import fail
    from warmpool.service.ports import UnreadableItemError

    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader has gone (`warmpool ... | head`): nothing more to say, and no traceback. Python
        # would flush standard output again at exit and fail once more: it is pointed at devnull.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except NoCredentialsError:
        return fail(
            "no AWS credentials: configure a profile (aws configure) or set AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY; against the emulator any value works"
        )
    except NoRegionError:
        return fail("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    except EndpointConnectionError as exc:
        return fail(
            f"cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}: is it running? "
            "(start the emulator with `warmpool emulator --port 5000`)"
        )
    except ClientError as exc:
        return fail(_refused(exc, args))
    except UnreadableItemError as exc:  # says which item, and what to do
        return fail(str(exc))
    return code


def _refused(exc: Any, args: argparse.Namespace) -> str:
    """One line for a call AWS refused: what was called, AWS's own words, and where to look."""
    from warmpool.cli.output import named_table

    error = exc.response.get("Error", {})
    code = error.get("Code", "Error")
    said = f"{exc.operation_name} refused: {code}: {error.get('Message', '')}".rstrip(": ")
    if code == "ResourceNotFoundException":
        names = [
            # `--table NAME` where typed, `POOLS_TABLE_NAME=NAME` where the environment gave it (`pools`)
            named_table(args, dest) if hasattr(args, f"{dest}_typed") else f"{flag} {value}"
            for flag, dest, value in (
                ("--table", "table", getattr(args, "table", None)),
                ("--audit-table", "audit_table", getattr(args, "audit_table", None)),
            )
            # `pools list --table nope` named the audit table as well, which list does not read
            if value and (flag == "--table" or getattr(args, "reads_audit_table", True))
        ]
        where = f" ({', '.join(names)})" if names else ""
        return f"{said}; check the table names{where} against the stack's outputs, and --region"
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return f"{said}; docs/deploy.md lists the permissions the CLI needs"
    return said


if __name__ == "__main__":
    sys.exit(main())
