"""`warmpool policy validate FILE` and `warmpool policy explain --policy FILE (--event FILE | --job NAME)`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from warmpool.cli.output import (
    ENDPOINT_HELP,
    REGION_HELP,
    Typed,
    deployed_policy,
    deployment_limits,
    examples,
    fail,
    given,
    iso_moment,
    job_name,
    named_table,
    note,
    print_json,
)
from warmpool.domain.messages import counted

if TYPE_CHECKING:
    from warmpool.domain.model import EngineLimits, Pool
    from warmpool.domain.policy.document import PolicyDocument, TagNames
    from warmpool.domain.policy.resolve import Resolved
    from warmpool.service.lifecycle import Preview


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("policy", help="validate a policy document, or explain a decision")
    commands = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    validate = commands.add_parser(
        "validate",
        help="check a policy YAML file; lists every problem",
        description="Check a policy document (docs/policy.md): every problem on one line, by path, with "
        "the fix. Exit 0 when valid, 1 when not.",
        **examples(
            "warmpool policy validate policies/example.yaml",
            "warmpool policy validate policies/example.yaml --format json",
        ),
    )
    validate.add_argument(
        "file", type=given("the policy file to check"), help="the policy YAML (or JSON) file"
    )
    validate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: {valid, summary, warnings | problems}",
    )
    validate.set_defaults(run=run_validate)
    explain = commands.add_parser(
        "explain",
        help="what warmpool would do with a pool, and why",
        description="The decision warmpool would take for a job's pool: its action, keep-alive, rule and "
        "reasons, and every policy field's value with the scope it comes from. With --job and the "
        "registry (--table, or POOLS_TABLE_NAME), the engine's own decision were it to look now: it reads "
        "what the engine reads (the pool's record, the gap histories, the other warm pools, the team's "
        "ledger) and writes nothing. The deployment's limits come from the environment, as the "
        "functions' do (MAX_STEP_SECONDS, STEP_MARGIN_SECONDS, MAX_LIFETIME_SECONDS, UPDATE_REQUIRES_TAG, "
        "JOB_NAME_PREFIXES).",
        **examples(
            "warmpool policy explain --policy policies/example.yaml "
            "--event examples/training-job-completed.json",
            "warmpool policy explain --policy policies/example.yaml "
            "--event examples/training-job-completed.json --now 2026-03-02T18:30:00Z --format json",
            "warmpool policy explain --policy policies/example.yaml --job my-training-job --region us-east-1",
        ),
    )
    explain.add_argument(
        "--policy",
        type=given("a policy file, or drop --policy for the built-in default policy"),
        help="policy YAML (default: with --job and the registry, the deployed one, POLICY_PARAMETER_NAME "
        "in SSM, as the engine reads it; else the built-in default policy)",
    )
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--event", help="a SageMaker Training Job State Change event (JSON file); works offline"
    )
    source.add_argument(
        "--job",
        type=job_name,
        help="a training job name, described through --endpoint-url or your account",
    )
    explain.add_argument(
        "--now",
        # it said "now, or the event's end time": which now, against the emulator, it did not say
        help="ISO time to decide at (default: with --event, a second after the job's end, as its event "
        "is handled; with --job, now: against `warmpool emulator`, its virtual clock)",
    )
    explain.add_argument(
        "--table",
        action=Typed,
        type=given("the registry table, or drop --table for POOLS_TABLE_NAME"),
        help="registry table, read with --job (default: POOLS_TABLE_NAME; without either, the pool is "
        "decided alone, and explain says what it did not read)",
    )
    explain.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help=ENDPOINT_HELP)
    explain.add_argument("--region", default=None, help=REGION_HELP)
    explain.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    # a table is named as it was given, `--table NAME` or `POOLS_TABLE_NAME=NAME` (`named_table`)
    explain.set_defaults(run=run_explain, table_typed=False, reads_audit_table=False)


def _load(path: str | None) -> Any:
    from warmpool.domain.policy import PolicyDocument, load_policy_file

    return load_policy_file(path) if path else PolicyDocument()


def run_validate(args: argparse.Namespace) -> int:
    from warmpool.domain.policy import PolicyError, deployable

    try:
        policy = deployable(_load(args.file), args.file)  # what synth would refuse, refused here too
    except PolicyError as exc:
        if args.format == "json":
            print_json({"valid": False, "problems": exc.problems})
        else:
            print(str(exc), file=sys.stderr)
        return 1
    summary = (
        f"{args.file}: valid (version {policy.version}; {counted(len(policy.teams), 'team')}, "
        f"{counted(len(policy.owners), 'owner')}, {counted(len(policy.selectors), 'selector')}; "
        f"default strategy {policy.defaults.keep_alive_strategy or 'job'}"
        f"{'; DRY RUN' if policy.dry_run else ''})"
    )
    advice = policy.advice()
    if args.format == "json":
        print_json({"valid": True, "summary": summary, "warnings": advice})
    else:
        print(summary)
        for line in advice:
            print(f"warning: {line}", file=sys.stderr)
    return 0


def _parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return iso_moment(text, "--now")
    except ValueError as exc:
        raise SystemExit(fail(str(exc))) from None


def _pool_from_event(path: str, tag_names: TagNames) -> tuple[Any, datetime]:
    from warmpool.domain.model import MatchKey, WarmPoolStatus
    from warmpool.models.events import EventRejectedError, TrainingJobEvent, parse_lifecycle_message
    from warmpool.service.lifecycle import pool_from_job

    try:  # utf-8-sig: a byte-order mark (Notepad's, PowerShell's) was "not JSON (Unexpected UTF-8 BOM)"
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as exc:
        raise SystemExit(fail(f"--event: cannot read {path} ({exc.strerror})")) from None
    except UnicodeDecodeError as exc:
        raise SystemExit(
            fail(
                f"--event: {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                f"{exc.start}); it should hold the event's JSON, as EventBridge delivers it"
            )
        ) from None
    try:
        message = parse_lifecycle_message(text)
    except EventRejectedError as exc:
        raise SystemExit(fail(f"--event: {exc}")) from None
    if not isinstance(message, TrainingJobEvent):
        raise SystemExit(fail("--event: explain needs a 'SageMaker Training Job State Change' event"))
    problem = _bad_resource_config(message.detail.resource_config)
    if problem:
        raise SystemExit(fail(f"--event: detail.ResourceConfig.{problem}"))
    detail = message.detail.model_dump(by_alias=True)
    detail["Tags"] = message.detail.tags
    ended = message.detail.training_end_time or message.time
    detail["TrainingEndTime"] = ended.isoformat()
    detail["WarmPoolStatus"] = {"Status": "Available"}  # the offline assumption: the pool is Available
    pool = pool_from_job(
        detail,
        message.detail.training_job_name,
        MatchKey.from_training_job(detail),
        WarmPoolStatus.AVAILABLE,
        ended,
        tag_names,
    )
    return pool, ended


# what SageMaker writes as whole numbers in ResourceConfig, and the least of each
_RESOURCE_NUMBERS = {"InstanceCount": 1, "VolumeSizeInGB": 0, "KeepAlivePeriodInSeconds": 0}


def _bad_resource_config(resource: dict[str, Any]) -> str | None:
    """What is wrong with the numbers of an event's ResourceConfig, by key; None when nothing is. The
    lifecycle function describes the job instead: only explain reads them from the event, where an
    InstanceCount of "abc" was int()'s traceback and a negative keep-alive explained as "-0 min"."""
    for key, least in _RESOURCE_NUMBERS.items():
        value = resource.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            return f"{key}: must be a whole number, {least} or more, got {json.dumps(value)}"
    return None


def _pool_from_account(
    name: str, endpoint_url: str | None, region: str | None, tag_names: TagNames, now: datetime | None
) -> tuple[Any, datetime]:
    """The job's pool as the endpoint describes it, at `now` (--now), else at the endpoint's now: the
    emulator's virtual clock, or this machine's (a local harness's clock when it set one, `cli_now`)."""
    from warmpool.adapters.sagemaker import SageMakerAdapter
    from warmpool.cli.output import aws_client, cli_now
    from warmpool.domain.model import MatchKey, WarmPoolStatus
    from warmpool.service.lifecycle import pool_from_job
    from warmpool.service.ports import JobNotFoundError

    adapter = SageMakerAdapter(aws_client("sagemaker", endpoint_url, region))
    try:
        job = adapter.describe_training_job(name)
    except JobNotFoundError:
        raise SystemExit(fail(f"--job: no training job named {name}")) from None
    job["Tags"] = adapter.list_tags(str(job.get("TrainingJobArn", "")))
    status = WarmPoolStatus((job.get("WarmPoolStatus") or {}).get("Status", "Terminated"))
    now = now or cli_now(endpoint_url)  # asked once the job is described: the endpoint answers
    return pool_from_job(job, name, MatchKey.from_training_job(job), status, now, tag_names), now


class _FirstReading:
    """The clock a preview decides by: `now` (--now), else the endpoint's now as first read, and the
    same at every later reading (one decision, one moment). The first reading comes after the
    registry and the job have been read: an endpoint that is no emulator is asked only once it has
    answered, and AWS itself never (`endpoint_now`). A local harness's clock (in-process moto: the
    tests, the demo) is read as `pools costs|extend|release` read it (`cli_now`): read at the machine's,
    a pool the harness ended a minute ago had idled for months, and was decided released."""

    def __init__(self, endpoint_url: str | None, now: datetime | None) -> None:
        self._endpoint_url = endpoint_url
        self._now = now

    def now(self) -> datetime:
        from warmpool.cli.output import cli_now

        if self._now is None:
            self._now = cli_now(self._endpoint_url)
        return self._now


def _preview(
    args: argparse.Namespace, table: str, policy: PolicyDocument, limits: EngineLimits
) -> tuple[Preview, datetime]:
    """What the engine would decide about the job's pool if it looked now (`LifecycleService.preview`),
    on clients that may only read: the engine's code, nothing written."""
    from botocore.exceptions import ClientError

    from warmpool.adapters.registry import DynamoPoolRegistry
    from warmpool.adapters.sagemaker import SageMakerAdapter
    from warmpool.cli.output import aws_client
    from warmpool.domain.model import WarmPoolStatus
    from warmpool.service.ports import JobNotFoundError, ReadNotPermittedError
    from warmpool.service.wiring import build_preview_service

    sagemaker = SageMakerAdapter(aws_client("sagemaker", args.endpoint_url, args.region, read_only=True))
    dynamodb = aws_client("dynamodb", args.endpoint_url, args.region, read_only=True)
    # the audit table is never read: an empty name is never sent
    registry = DynamoPoolRegistry(table, dynamodb, audit_table_name="")
    clock = _FirstReading(args.endpoint_url, _parse_now(args.now))
    service = build_preview_service(sagemaker, registry, policy, clock=clock, limits=limits)
    where = named_table(args, "table")
    try:
        preview = service.preview(args.job)
    except JobNotFoundError:
        # it named no table: whether the registry had the pool, and which registry, was left to guess
        if registry.pool_id_for_job(args.job) is None:
            said = (
                f"--job: no training job named {args.job} in SageMaker, and no pool is registered for it "
                f"in {where}: check the job's name (warmpool pools list shows the pools there are), or "
                "--region"
            )
        else:
            said = (
                f"--job: no training job named {args.job} in SageMaker, though a pool is registered for "
                f"it in {where}: check --region, or the table (another stack's or region's)"
            )
        raise SystemExit(fail(said)) from None
    except ReadNotPermittedError as exc:
        # the adapter's words are for the engine's role: AWS's own refusal is said as the CLI says it,
        # naming the permissions the person running explain needs (docs/deploy.md)
        if isinstance(exc.__cause__, ClientError):
            raise exc.__cause__ from None
        raise
    if preview.record.pool.status is not WarmPoolStatus.TERMINATED and (
        registry.pool_id_for_job(preview.asked) is None
    ):
        # a registry of another stack or region had the pool decided as the engine's first look at it
        note(
            f"no pool is registered for {preview.asked} in {where}: decided as the engine's first look at "
            "it would decide; if the engine has seen the job, check the table and --region"
        )
    return preview, clock.now()


def run_explain(args: argparse.Namespace) -> int:
    from warmpool.domain.clock import moment_text
    from warmpool.domain.decide import decide_keep_alive
    from warmpool.domain.policy import PolicyError
    from warmpool.domain.policy.resolve import RULE_FIELDS, resolve_rules
    from warmpool.domain.policy.rules import team_zone_name

    if args.event and args.table:
        # the registry's record is a job's, named by --job: read for nothing, it looked as if applied
        return fail("--table is read with --job only (the engine's record of the job's pool): drop it")
    table = None if args.event else args.table or os.environ.get("POOLS_TABLE_NAME") or None
    args.table = table  # a refusal naming the table names it as given (the environment's, or --table)
    deployed = os.environ.get("POLICY_PARAMETER_NAME") if table and not args.policy else None
    try:
        # with the registry, the engine's decision is the deployed policy's: the built-in one decided it
        # otherwise (its strategy, limits and working hours), a decision the engine would never take
        policy = (
            deployed_policy(deployed, args.endpoint_url, args.region, "; pass --policy FILE")
            if deployed
            else _load(args.policy)
        )
    except PolicyError as exc:  # a bad input, as for demo, simulate and pools (validate's 1 is its verdict)
        return fail(str(exc))
    if table and not args.policy and not deployed:
        note(
            "no --policy and no POLICY_PARAMETER_NAME: decided under the built-in policy, which may not be "
            "the deployed one the engine decides by; pass --policy FILE or export the stack's outputs"
        )
    limits = deployment_limits()
    asked = args.job
    if table:
        preview, now = _preview(args, table, policy, limits)
        pool, decision = preview.record.pool, preview.decision
    else:
        if args.event:
            pool, ended = _pool_from_event(args.event, policy.tags)
            now = _parse_now(args.now) or ended + timedelta(seconds=1)
        else:
            pool, now = _pool_from_account(
                args.job, args.endpoint_url, args.region, policy.tags, _parse_now(args.now)
            )
        decision = decide_keep_alive(pool, policy, now, limits=limits)
    rules = resolve_rules(policy, pool)
    # every field, also those no scope sets and the built-in policy leaves unset (no budget, no limit):
    # they were left out, and nothing said that no rule of the policy applied them
    resolved = {
        name: {"value": _plain(rules.values.get(name)), "source": rules.sources.get(name, "builtin")}
        for name in RULE_FIELDS
    }
    if rules.values.get("timezone") is None:  # the team's clock derived: the working hours' zone, or UTC
        zone, source = team_zone_name(rules)
        resolved["timezone"] = {"value": zone, "source": source}
    # A request is judged by the overrides of the person who makes it: those shown are the owner's.
    resolved["overrides"]["for_request_by"] = rules.owner
    resolved = dict(sorted(resolved.items()))
    # with the registry, what the engine reads was read: nothing is left out
    unread = [] if table else _not_read(policy, rules, pool, from_account=bool(args.job))
    document = {
        **decision.to_json(),
        "job": pool.job_name,
        "team": rules.team,
        "owner": rules.owner,
        "scopes": list(rules.chain),
        "resolved": resolved,
        "now": now.isoformat(),
        "registry": table,
        "limits": asdict(limits),
        "not_read": unread,
        # what validate warns of: a decision that surprises (a team's pools kept on a holiday its
        # working_hours dropped) is often one of them
        "warnings": policy.advice(),
    }
    if args.format == "json":
        print_json(document)
        return 0
    for line in document["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    if asked and asked != pool.job_name:
        print(f"{asked}'s warm pool is now {pool.job_name}'s (a later job reused it)")
    print(
        f"{pool.job_name}: team {rules.team}, owner {rules.owner or '-'}, "
        f"{pool.instance_type} x{pool.instance_count}"
    )
    print(f"scopes (least to most specific): {' < '.join(rules.chain)}")
    for name, row in resolved.items():
        value = json.dumps(row["value"], default=str)
        print(f"  {name:<24} {value:<40} from {row['source']}{_requester_note(name, rules.owner)}")
    print(f"decision: {decision.action.value}", end="")
    if decision.keep_alive_seconds is not None:
        print(f", keep-alive {decision.keep_alive_seconds} s", end="")
    # as the reasons say a moment (not 2026-03-02 11:00:01.500000+00:00, which read as neither)
    next_check = moment_text(decision.next_check_at) if decision.next_check_at else "-"
    print(f", horizon {decision.horizon_seconds} s, next check {next_check}")
    print(f"rule: {decision.rule}")
    for reason in decision.reasons:
        print(f"  - {reason}")
    if table:
        print(
            f"read as the engine reads them: the pool's record, the gap histories, the warm pools and the "
            f"team's ledger in {named_table(args, 'table')}; the deployment's limits from the environment"
        )
    if unread:
        print(
            f"not read: {'; '.join(unread)}. The engine reads them, and may decide otherwise: "
            f"`warmpool pools show {pool.job_name}` shows its last decision."
        )
    return 0


def _not_read(policy: PolicyDocument, rules: Resolved, pool: Pool, *, from_account: bool) -> list[str]:
    """What the engine reads besides the job and the policy, where the pool's rules use it, and explain
    does not (it decides the pool alone): without a word, explain said `extend` for a pool the team's
    limit or its budget released, or that adaptive's history kept for another time."""
    unread = []
    limit = rules.get("max_warm_instances")
    if limit is not None:
        unread.append(f"the team's other warm pools (max_warm_instances {limit})")
    type_limit = policy.instance_type_limits.get(pool.instance_type)
    if type_limit is not None:
        kind = pool.instance_type
        unread.append(f"the account's other warm {kind} pools (instance_type_limits {type_limit})")
    if rules.get("budget") is not None:
        unread.append("what the team's idle pools have cost and booked this day and month (budget)")
    strategy = rules.get("keep_alive_strategy")
    if strategy in ("adaptive", "counterfactual"):
        unread.append(f"the idle gaps on record for jobs of this shape ({strategy} learns from them)")
    if from_account:
        unread.append("an extension a person was promised (overrides)")
    return unread


def _requester_note(name: str, owner: str | None) -> str:
    """What the `overrides` row stands for: a request is judged by the overrides of the person who
    makes it (docs/policy.md, requests), and the row resolves the pool's owner's."""
    if name != "overrides":
        return ""
    who = f"by the owner {owner}" if owner else "by a person without an owners entry"
    return f", for a request {who} (another person's request gets their own owners.<name>)"


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value
