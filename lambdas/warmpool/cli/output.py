"""Output and errors shared by the CLI commands: JSON, tables, one-line errors without tracebacks."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warmpool.domain.model import TRAINING_JOB_NAME, EngineLimits

EXAMPLES = "examples (from the repository's root):"
# the flags every AWS-reading command takes, in the same words
ENDPOINT_HELP = (
    "AWS endpoint, e.g. the emulator's http://127.0.0.1:5000 (default: AWS_ENDPOINT_URL, else AWS's)"
)
REGION_HELP = "AWS region (default: AWS_DEFAULT_REGION, else your profile's)"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, except that an epilog of examples keeps one command a line, as it is pasted."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(EXAMPLES):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def examples(*commands: str) -> dict[str, Any]:
    """The `add_parser` keywords of a command whose help ends with these example command lines."""
    return {
        "epilog": "\n".join([EXAMPLES, *(f"  {command}" for command in commands)]),
        "formatter_class": HelpFormatter,
    }


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


class Typed(argparse.Action):
    """Stores a flag's value, and that it was typed (`<dest>_typed`): a table name the flag's default
    took from the environment was said as `--table NAME`, a flag the reader never typed."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_typed", True)


# where a table's name comes from when its flag is not typed
TABLE_VARIABLES = {"table": "POOLS_TABLE_NAME", "audit_table": "AUDIT_TABLE_NAME"}


def named_table(args: argparse.Namespace, dest: str) -> str:
    """A table as the reader gave it: `--table NAME` when typed, else `POOLS_TABLE_NAME=NAME` (the
    environment's, a stack output), so that what to check is where the name came from."""
    value = getattr(args, dest, None)
    if getattr(args, f"{dest}_typed", False):
        return f"--{dest.replace('_', '-')} {value}"
    return f"{TABLE_VARIABLES[dest]}={value}"


def fail(message: str, code: int = 2) -> int:
    print(f"warmpool: {message}", file=sys.stderr)
    return code


def note(message: str) -> None:
    """A line on stderr that the output needs read with it, the exit code unchanged (stdout stays the
    table or JSON alone)."""
    print(f"warmpool: {message}", file=sys.stderr)


def unwritable(path: str, flag: str) -> str | None:
    """Why the file `path` (given as `flag`) cannot be written, checked before the work that fills it;
    None when it can. A name the system refuses to look at (one past the file system's 255 bytes)
    raised from the check itself, a traceback."""
    target = Path(path)
    try:
        if target.is_dir():
            return f"{flag} {path}: is a folder; name a file in it"
        folder = target.parent
        if not folder.is_dir():
            return f"{flag} {path}: the folder {folder} does not exist; create it or name another file"
        if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
            return f"{flag} {path}: cannot be written here; name another file"
    except OSError as exc:
        return f"{flag} {path}: cannot be written ({exc.strerror}); name another file"
    return None


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[("-" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def iso_moment(text: str, flag: str) -> datetime:
    """`text` as a moment, ISO 8601, UTC without an offset; a ValueError naming `flag` and the fix."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{flag} {text!r} is not an ISO 8601 moment; use e.g. 2026-03-02T10:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def job_name(text: str) -> str:
    """An argparse `type`: `text` when SageMaker could have named a training job so. An empty name (a
    script's unset variable) or one past 63 characters was a botocore traceback; any other name that is
    not one would be looked up in vain."""
    if not TRAINING_JOB_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a training job name: SageMaker's are 1 to 63 letters, digits and hyphens, "
            "beginning and ending with a letter or digit"
        )
    return text


def given(otherwise: str) -> Callable[[str], str]:
    """An argparse `type` for a value that must not be blank; `otherwise` is the message's rest after
    "empty: name ", naming what is wanted and what leaving the flag out does. A blank one (`--policy
    "$POLICY"`, the variable unset) was taken as the flag left out, without a word: demo ran on the
    example policy, simulate on none, `policy validate ""` found the built-in policy valid; a blank
    --user was recorded as asking, with nobody to ask about it later; a blank --team listed no pool but
    every team's costs (and DynamoDB refuses an empty key value outright)."""

    def named(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"empty: name {otherwise}")
        return text

    return named


# --team: a team, as its pools are tagged
team_name = given("a team, as its pools are tagged, or leave --team out")
_named = given("who asks, as the audit trail should record it")


def requester(text: str) -> str:
    """An argparse `type` for --user: who asks, as the audit trail records it and the policy's `owners`
    name people. A name with spaces around it (`--user "alice "`, pasted) matched no owner: the
    request was judged by the defaults' overrides, refused where alice's own allowed it, and the trail
    said "alice " had asked."""
    name = _named(text)
    if name != name.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} has spaces around it, and matches no owner the policy names so: write --user "
            f"{name.strip()}"
        )
    return name


# the emulator's control call reading its virtual clock (docs/emulator.md)
EMULATOR_NOW = "/_warmpool/now"


def _emulator_now(endpoint_url: str) -> datetime | None:
    """The virtual clock of `warmpool emulator` at `endpoint_url` (its answer to POST /_warmpool/now);
    None from any other endpoint."""
    import http.client
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint_url.rstrip('/')}{EMULATOR_NOW}",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            moment = datetime.fromisoformat(json.loads(response.read()))
    # refused, not found (URLError and HTTPError are OSErrors), not HTTP, not JSON, not a moment
    except (OSError, http.client.HTTPException, ValueError, TypeError):
        return None
    return moment if moment.tzinfo is not None else None


def endpoint_now(endpoint_url: str | None) -> datetime:
    """Now, as the jobs behind `endpoint_url` are timed: the virtual clock of `warmpool emulator` when
    the endpoint is one (it answers POST /_warmpool/now), else this machine's. The emulator's clock
    starts on 2026-01-05 and moves only when told to: decided at the machine's, a pool it ended a minute
    ago looked idle for months. AWS itself (no endpoint) is never asked; an endpoint that does not
    answer so (another emulator, a VPC endpoint) is on the machine's clock, as before."""
    return (_emulator_now(endpoint_url) if endpoint_url else None) or datetime.now(UTC)


def cli_now(endpoint_url: str | None) -> datetime:
    """Now for a command reading the jobs or pools behind `endpoint_url`: a local harness's clock when it
    set one (the demo, the tests), else `endpoint_now`."""
    from warmpool.service.wiring import OVERRIDES

    return OVERRIDES.clock.now() if OVERRIDES.clock else endpoint_now(endpoint_url)


class EndpointClock:
    """The engine's clock for a request acting through `endpoint_url` (`pools extend|release`):
    `endpoint_now`, asked at every reading (the emulator's clock moves when anyone tells it to). Made
    once the endpoint has answered an AWS call: an endpoint that is no emulator is asked only then,
    and AWS itself (no endpoint) never; both are on this machine's clock."""

    def __init__(self, endpoint_url: str | None) -> None:
        self._emulator = endpoint_url if endpoint_url and _emulator_now(endpoint_url) else None

    def now(self) -> datetime:
        return endpoint_now(self._emulator)


def checked_endpoint(url: str | None) -> str | None:
    """`url` when botocore can use it as an endpoint; else a SystemExit naming the fix (botocore's own
    ValueError, "Invalid endpoint: localhost:5000", was a traceback)."""
    from urllib.parse import urlsplit

    if url is None:
        return None
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise SystemExit(
            fail(f"--endpoint-url {url}: not a URL; write it with its scheme, e.g. http://127.0.0.1:5000")
        )
    return url


# what botocore takes as a region (a host label), less the empty name it also takes
_REGION = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)")


def checked_region(region: str | None) -> str | None:
    """`region` (--region) when botocore can make an endpoint of it; else a SystemExit naming the flag,
    or AWS_DEFAULT_REGION when it comes from there. An empty one made "https://dynamodb..amazonaws.com",
    and botocore's "Invalid endpoint" ValueError, like its InvalidRegionError, was a traceback."""
    if region is None:
        region = os.environ.get("AWS_DEFAULT_REGION")
        if region is not None and not _REGION.fullmatch(region):
            raise SystemExit(
                fail(f"AWS_DEFAULT_REGION {region!r}: not an AWS region; set it to one, e.g. us-east-1")
            )
        return None
    if not _REGION.fullmatch(region):
        raise SystemExit(fail(f"--region {region!r}: not an AWS region; e.g. --region us-east-1"))
    return region


# the operations that read and change nothing, by how botocore names them
READ_OPERATIONS = ("Describe", "Get", "List", "Query", "Scan", "BatchGet")


def aws_client(service: str, endpoint_url: str | None, region: str | None, *, read_only: bool = False) -> Any:
    """A client of `service`; `read_only`: one that refuses, before sending it, every call that is not
    a read (`READ_OPERATIONS`), as AWS refuses it a person with the read-only IAM policy of
    docs/deploy.md (AccessDeniedException): a command that must change nothing cannot, whatever path
    of the engine's code it runs (the registry's repair of an old item's index keys takes the refusal
    as a read-only caller's, and leaves it to the engine)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    endpoint_url = checked_endpoint(endpoint_url)
    region = checked_region(region)
    client = boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "adaptive", "max_attempts": 4}, connect_timeout=3, read_timeout=10),
    )

    def refuse(model: Any, **_: Any) -> None:
        if not str(model.name).startswith(READ_OPERATIONS):
            error = {"Code": "AccessDeniedException", "Message": "this command only reads"}
            raise ClientError({"Error": error}, str(model.name))

    if read_only:
        client.meta.events.register("before-call", refuse)
    return client


def deployed_policy(name: str, endpoint_url: str | None, region: str | None, instead: str = "") -> Any:
    """The policy the functions use: the SSM parameter `name` (POLICY_PARAMETER_NAME), validated like a
    policy file: an invalid one is a PolicyError naming every problem (`instead`: what to do instead of
    fixing it, said after a document that is no JSON)."""
    from warmpool.domain.policy import PolicyError, parse_policy

    ssm = aws_client("ssm", endpoint_url, region, read_only=True)
    raw = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PolicyError(name, [f"not JSON ({exc}){instead}"]) from None
    return parse_policy(data, source=name)


def deployment_limits() -> EngineLimits:
    """The limits the functions apply (`LimitSettings`), from the environment as the stack's outputs
    export them (docs/cli.md); the defaults where unset, as on the functions: `policy explain` decides
    by them, `pools costs` ends a pool's idling at its maximum lifetime as SageMaker does."""
    from warmpool.settings import LimitSettings, SettingsError

    try:
        return LimitSettings.from_env().engine_limits()
    except SettingsError as exc:
        problems = exc.problems
    except ValueError as exc:
        problems = str(exc)
    raise SystemExit(
        fail(
            f"the deployment's limits in the environment: {problems}; set them as the stack's outputs "
            "say (docs/cli.md), or unset them for the defaults"
        )
    )
