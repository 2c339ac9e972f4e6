"""`warmpool pools list|show|costs|extend|release`: the registry, what idling cost, and people's requests
through the engine.

Configuration comes from the same environment variables the Lambdas use (POOLS_TABLE_NAME,
AUDIT_TABLE_NAME, ...; see docs/cli.md), with --table, --audit-table, --endpoint-url and --region
overriding. `list` and `costs` read the registry table only (and the policy, for `costs` and for
`list --team`: which team a pool counts for is the policy's to say); `show`, `extend` and `release`
also the audit table.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from warmpool.cli.output import (
    ENDPOINT_HELP,
    REGION_HELP,
    Typed,
    checked_endpoint,
    checked_region,
    examples,
    fail,
    given,
    job_name,
    named_table,
    note,
    print_json,
    requester,
    table,
    team_name,
)
from warmpool.domain.messages import counted

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from warmpool.domain.model import Pool
    from warmpool.domain.policy.document import PolicyDocument
    from warmpool.service.ports import PoolRecord, PoolRegistry, UnreadableItemError


# `pools extend` / `pools release`: what a script reads of the answer (docs/cli.md). 2 is taken by
# bad input and missing settings. 4: the policy's dry_run is on, and nothing was done (the answer says
# what a real run would have done).
EXIT_CODES = {
    "done": 0,
    "refused": 1,
    "partly done": 3,
    "dry run, would be done": 4,
    "dry run, would be partly done": 4,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "pools",
        help="list, inspect, extend or release warm pools, or see their idle cost",
        description="The deployed stack's warm pools. The table names and settings come from the "
        "stack's outputs, exported as environment variables (docs/cli.md).",
    )
    commands = parser.add_subparsers(dest="pools_command", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser, audit: bool = True) -> None:
        p.add_argument(
            "--table",
            action=Typed,
            default=os.environ.get("POOLS_TABLE_NAME"),
            help="registry table (POOLS_TABLE_NAME)",
        )
        # list and costs read the registry table alone: the flag is taken, as by every pools command, and
        # its help says so, where it read as one more table to get right
        p.add_argument(
            "--audit-table",
            action=Typed,
            default=os.environ.get("AUDIT_TABLE_NAME"),
            help="audit table (AUDIT_TABLE_NAME)"
            if audit
            else f"not read by {p.prog.split()[-1]}, which reads the registry table alone",
        )
        p.set_defaults(reads_audit_table=audit, table_typed=False, audit_table_typed=False)
        p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help=ENDPOINT_HELP)
        p.add_argument("--region", default=None, help=REGION_HELP)

    listing = commands.add_parser(
        "list",
        help="a table of pools",
        description="Job, owner, team, instance, state, warm until, billable time and last decision of "
        "each pool in the registry.",
        **examples(
            "warmpool pools list --team vision --status Available",
            "warmpool pools list --team platform --policy policies/example.yaml",
            "warmpool pools list --format json",
        ),
    )
    listing.add_argument(
        "--team",
        type=team_name,
        help="only the pools that count for this team, as its budget and digest count them: tagged with "
        "it, and the untagged ones when it is the policy's default_team",
    )
    listing.add_argument(
        "--policy",
        type=given("a policy file, or drop --policy for the deployed one"),
        help="policy YAML that says which team a pool counts for, read with --team only (default: the "
        "deployed one, POLICY_PARAMETER_NAME in SSM)",
    )
    listing.add_argument(
        "--status", choices=("InUse", "Available", "Reused", "Terminated"), help="only pools in this state"
    )
    listing.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    common(listing, audit=False)
    listing.set_defaults(run=run_list)
    show = commands.add_parser(
        "show",
        help="one pool: lineage and audit trail",
        description="One pool, by any job of its lineage: its state, the jobs that reused it (the first "
        "and the latest 19) and its audit trail, each decision with its rule and reasons.",
        **examples(
            "warmpool pools show my-training-job", "warmpool pools show my-training-job --format json"
        ),
    )
    show.add_argument(
        "job", type=job_name, help="a training job's name (a job whose pool a later job took names that pool)"
    )
    show.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    common(show)
    show.set_defaults(run=run_show)
    costs = commands.add_parser(
        "costs",
        help="each team's idle cost today and this month, against its budget",
        description="Each team's idle cost today and this month on the team's clock: the ended gaps, the "
        "pools idle now and what they have booked until their expiry (what is left also counts a person's "
        "promise beyond it), against the policy's budget (the "
        "deployed policy from SSM unless --policy; without either, built-in prices and no budgets).",
        **examples(
            "warmpool pools costs", "warmpool pools costs --team vision --policy policies/example.yaml"
        ),
    )
    costs.add_argument("--team", type=team_name, help="only this team")
    costs.add_argument(
        "--policy",
        type=given("a policy file, or drop --policy for the deployed one"),
        help="policy YAML for prices and budgets (default: the deployed one, POLICY_PARAMETER_NAME in SSM)",
    )
    costs.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    costs.add_argument(
        "--by",
        choices=("team", "instance-type"),
        default="team",
        help="the table's lines: one per team (default), or one per team and instance type (JSON has "
        "both: each team's `by_instance_type`)",
    )
    common(costs, audit=False)
    costs.set_defaults(run=run_costs)
    extend = commands.add_parser(
        "extend",
        help="ask to keep a pool warm longer (the policy decides)",
        description="Ask the engine to keep a pool warm for --minutes more, as the Slack buttons do: the "
        "policy decides (overrides.max_extend_minutes, working hours, budgets). Exit 0 when done, 1 when "
        "refused, 3 when partly done (a limit kept the pool warm longer, but not as long as asked), 4 when "
        "it would be done, or partly, but the policy's dry_run is on (nothing done: the answer says what "
        "would have been; a refusal is 1 all the same).",
        **examples(
            "warmpool pools extend my-training-job --minutes 30",
            "warmpool pools extend my-training-job --minutes 30 --format json",
        ),
    )
    extend.add_argument("job", type=job_name, help="a training job's name")
    extend.add_argument(
        "--minutes", type=_minutes, required=True, help="how much longer, in whole minutes (1 or more)"
    )
    extend.add_argument(
        "--user",
        type=requester,
        default=os.environ.get("USER") or "cli",
        help="who asks, as audited (beside the AWS identity running the command) and as the policy names "
        "owners: their overrides apply, e.g. owners.<user>.overrides.allow_outside_working_hours "
        "(default: $USER, else cli)",
    )
    _answer_format(extend)
    common(extend)
    extend.set_defaults(run=run_request, kind="extend")
    release = commands.add_parser(
        "release",
        help="ask to release a pool now (the policy decides)",
        description="Ask the engine to release a pool now, as the Slack button does. Exit 0 when done, 1 "
        "when refused, 4 when it would be done but the policy's dry_run is on (nothing done: the answer "
        "says what would have been).",
        **examples("warmpool pools release my-training-job"),
    )
    release.add_argument("job", type=job_name, help="a training job's name")
    release.add_argument(
        "--user",
        type=requester,
        default=os.environ.get("USER") or "cli",
        help="who asks, as audited beside the AWS identity running the command and as the policy names "
        "owners (default: $USER, else cli)",
    )
    _answer_format(release)
    common(release)
    release.set_defaults(run=run_request, kind="release", minutes=0)


def _answer_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="default: text; json: the answer as one document (verdict, rule, reasons, ...), the exit "
        "code the same",
    )


def _minutes(text: str) -> int:
    """An argparse `type` for --minutes: a whole number of minutes, 1 or more. `30m`, `1.5` or `1h`
    were argparse's "invalid int value", which says neither the unit nor how to write it; 0 and
    negative numbers were refused after the parse, without the value asked."""
    try:
        minutes = int(text)
    except ValueError:
        minutes = 0
    if minutes <= 0 or not text.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of minutes, 1 or more: write e.g. --minutes 30 (an hour "
            "and a half: --minutes 90)"
        )
    return minutes


def _registry(args: argparse.Namespace, *, audit: bool) -> Any:
    """The registry; `audit`: the command reads or writes the audit trail, so its table is required."""
    from warmpool.adapters.registry import DynamoPoolRegistry
    from warmpool.cli.output import aws_client

    if not args.table:
        raise SystemExit(fail("no registry table: pass --table or set POOLS_TABLE_NAME (a stack output)"))
    # Without `audit` the command never touches the audit table: an empty name is never sent.
    audit_table = _audit_table(args) if audit else args.audit_table or ""
    return DynamoPoolRegistry(
        args.table, aws_client("dynamodb", args.endpoint_url, args.region), audit_table_name=audit_table
    )


def _audit_table(args: argparse.Namespace) -> str:
    if not args.audit_table:
        raise SystemExit(fail("no audit table: pass --audit-table or set AUDIT_TABLE_NAME (a stack output)"))
    return str(args.audit_table)


def _pool_of_job(registry: PoolRegistry, job: str) -> PoolRecord | None:
    """The pool a job ran on, as it is now: a later job may have reused it (then it is that job's)."""
    pool_id = registry.pool_id_for_job(job)
    return registry.get(pool_id) if pool_id else None


def _row(record: Any, team: str | None = None) -> dict[str, Any]:
    """A pool's line; `team`: its team tag as the policy names the tag, where the command read the
    policy (else the tag it was registered with)."""
    from warmpool.service.lifecycle import tuning_job_name

    pool = record.pool
    decision = record.last_decision
    # A pool left to its running tuning job is not decided (no decision, no next look) until the
    # tuning job ends: without its name, an idle sweep's pool read as one warmpool had forgotten.
    tuner = (
        tuning_job_name(pool.tuning_job_arn, pool.job_name)
        if record.tuner_owned and pool.tuning_job_arn
        else None
    )
    return {
        "job": pool.job_name,
        "pool": pool.pool_id,
        "owner": pool.owner,
        "team": team or pool.team,
        "instance": f"{pool.instance_type} x{pool.instance_count}",
        "state": pool.status.value,
        "left_to_tuning_job": tuner,
        "warm_until": pool.expires_at.isoformat() if pool.expires_at else None,
        "billable_seconds": pool.billable_seconds,
        # a dry run's "release" of a pool listed Available would read as a release that failed
        "last_decision": (
            f"{'dry run: ' if decision.dry_run else ''}{decision.action.value} ({decision.rule})"
            if decision
            else None
        ),
    }


def _no_such_team(team: str, teams: set[str], where: str) -> None:
    """Say that --team names a team nothing knows (a typo, another capitalisation): its empty table or
    list read as a team with no pool or no cost, and the command exits 0 all the same."""
    known = f"the teams: {', '.join(sorted(teams))}" if teams else "the registry has no pool"
    note(f"--team {team}: no pool in the registry is this team's{where}; {known}")


def run_list(args: argparse.Namespace) -> int:
    from warmpool.domain.policy import PolicyError

    if args.policy and not args.team:
        # the policy says which team a pool counts for, and nothing else of the list: read for nothing,
        # the table looked as if it had been applied
        return fail(
            "--policy is read with --team only (it says which team a pool counts for): add --team TEAM, "
            "or drop --policy"
        )
    registry = _registry(args, audit=False)
    counts_for = tagged = None
    if args.team:
        try:
            counts_for, tagged = _counted_team(args)
        except PolicyError as exc:
            return fail(str(exc))
    # an item that cannot be read is left out and named, the others listed: one item edited by hand
    # failed the whole listing (exit 2), as it no longer stops the reconciler (docs/registry.md)
    unreadable: list[UnreadableItemError] = []
    records = registry.list_pools(status=args.status, unreadable=unreadable)
    if counts_for is not None:
        records = [r for r in records if counts_for(r.pool) == args.team]
    rows = sorted((_row(r, tagged(r.pool) if tagged else None) for r in records), key=_list_order)
    if counts_for is not None and not rows:
        teams = {team for r in registry.list_pools(unreadable=unreadable) if (team := counts_for(r.pool))}
        if args.team not in teams:
            _no_such_team(args.team, teams, "")
    if args.format == "json":
        print_json(rows)
    else:
        headers = (
            "job",
            "owner",
            "team",
            "instance",
            "state",
            "warm_until",
            "billable_seconds",
            "last_decision",
        )
        print(table(headers, [[_state_text(r) if h == "state" else r[h] for h in headers] for r in rows]))
    return _left_out(unreadable, "left out of the list")


def _left_out(unreadable: Sequence[UnreadableItemError], what: str) -> int:
    """Each pool item that could not be read, once, on stderr by its key, its field and the fix (the
    error's message), after the output of the others; 1 when there is one (something could not be
    read: a script must not take the output for the whole registry), else 0."""
    said: set[str] = set()
    for exc in unreadable:
        if exc.key not in said:
            said.add(exc.key)
            note(f"{what}: {exc}")
    return 1 if said else 0


def _list_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """The order of `pools list` (docs/cli.md): by team (the untagged last), then by warm until, the
    soonest first (a pool gone, until when it was warm; the running ones, warm until no time yet,
    last), then by job. It was the pools' ids' (their first jobs' names, not in the table): a team's
    pools scattered among the others', and the one going cold first anywhere."""
    team, until = row["team"], row["warm_until"]
    when = datetime.fromisoformat(until) if until else None
    return (team is None, team or "", when is None, when or datetime.min.replace(tzinfo=UTC), row["job"])


def _state_text(row: dict[str, Any]) -> str:
    """A pool's state as the text of `list` and `show` says it: with the tuning job it is left to."""
    tuner = row.get("left_to_tuning_job")
    return f"{row['state']} (left to tuning job {tuner})" if tuner else str(row["state"])


def _counted_team(
    args: argparse.Namespace,
) -> tuple[Callable[[Pool], str | None], Callable[[Pool], str | None]]:
    """The team a pool counts for, as `pools costs`, the budgets and the digests count it
    (`team_of`): `list --team platform`, which a digest of platform's points at for the pools it left
    out, listed only the pools tagged platform, none of the untagged ones the digest and the costs
    counted for it. The policy says which tag names the team and which team the untagged pools count
    for; without one (no --policy, no POLICY_PARAMETER_NAME) the tag alone says it, and stderr says so
    rather than guess a default team the deployed policy may not have. And the team tag, as the policy
    names it (`pool_team`), for the `team` column: after the policy's `tags.team` named another tag,
    `--team cc-7` listed its pools under the team they were registered with."""
    from warmpool.domain.policy import load_policy_file
    from warmpool.domain.policy.resolve import pool_team
    from warmpool.service.lifecycle import team_of

    if not args.policy and not os.environ.get("POLICY_PARAMETER_NAME"):
        note(
            f"no --policy and no POLICY_PARAMETER_NAME: --team {args.team} matches the team tag only; "
            "the untagged pools, which count for the policy's default_team, are listed under no team"
        )
        return (lambda pool: pool.team), (lambda pool: pool.team)
    policy = load_policy_file(args.policy) if args.policy else _deployed_policy(args)
    return (lambda pool: team_of(pool, policy)), (lambda pool: pool_team(policy, pool))


def run_show(args: argparse.Namespace) -> int:
    from warmpool.adapters.registry import AUDIT_RETENTION

    registry = _registry(args, audit=True)
    record = _pool_of_job(registry, args.job)
    if record is None:
        return fail(_why_no_pool(args), code=1)
    trail = registry.audit_trail(record.pool.pool_id)
    document = {
        **_row(record),
        "lineage": list(record.pool.lineage),
        "lineage_jobs": record.pool.jobs_in_lineage,
        "next_check_at": record.next_check_at.isoformat() if record.next_check_at else None,
        "audit": [
            {"at": e.at.isoformat(), "job": e.job_name, "what": e.what, "details": dict(e.details)}
            for e in trail
        ],
    }
    if args.format == "json":
        print_json(document)
        return 0
    # the fields of `list` (docs/cli.md): the billable time was in the JSON only
    fields = ("job", "pool", "owner", "team", "instance", "state", "warm_until", "billable_seconds")
    for key in (*fields, "last_decision"):
        value = _state_text(document) if key == "state" else document[key]
        print(f"{key:<14} {value if value is not None else '-'}")
    lineage, jobs = document["lineage"], document["lineage_jobs"]
    left_out = jobs - len(lineage)
    shown = [lineage[0], f"({left_out} more)", *lineage[1:]] if left_out > 0 else lineage
    print(f"{'lineage':<14} {' -> '.join(shown)} ({counted(jobs, 'job')})")  # not `(1 jobs)`
    if not document["audit"]:
        print(f"audit:         none (an entry is kept {AUDIT_RETENTION.days} days)")
        return 0
    print("audit:")
    for line in _trail_lines(document["audit"]):
        print(line)
    return 0


def _why_no_pool(args: argparse.Namespace) -> str:
    """Why `pools show` has no pool for the job, as far as one DescribeTrainingJob tells: "check the
    job's name" sent the owner of a job created without a keep-alive, a job there with its name right,
    looking for a typo. Where SageMaker cannot be asked (a reader without DescribeTrainingJob), both
    are left open, as before."""
    from warmpool.adapters.sagemaker import SageMakerAdapter
    from warmpool.cli.output import aws_client
    from warmpool.service.ports import JobNotFoundError, ReadNotPermittedError

    where = f"in {named_table(args, 'table')}"
    elsewhere = "the registry of another stack or region: check --table and --region"
    try:
        job = SageMakerAdapter(
            aws_client("sagemaker", args.endpoint_url, args.region, read_only=True)
        ).describe_training_job(args.job)
    except JobNotFoundError:
        return (
            f"no training job {args.job} in SageMaker, and no pool is registered for it {where}: check "
            "the job's name (warmpool pools list shows the pools there are), or --region"
        )
    except ReadNotPermittedError:
        return (
            f"no pool is registered for job {args.job} {where}: check the job's name (warmpool pools "
            f"list shows the pools there are), or {elsewhere}"
        )
    keep_alive = (job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds")
    if not keep_alive:
        return (
            f"{args.job} has no warm pool: it was created without a keep-alive "
            "(ResourceConfig.KeepAlivePeriodInSeconds), so SageMaker keeps nothing warm after it and "
            "warmpool has no pool to show; a job created with one is registered when it starts"
        )
    return (
        f"no pool is registered for job {args.job} {where}, though SageMaker has the job "
        f"({job.get('TrainingJobStatus')}, a keep-alive of {keep_alive} s): {elsewhere}"
    )


# what an entry's headline says of its details (`_trail_lines`), not repeated after it
_HEADLINE = frozenset(
    {
        "action",
        "rule",
        "user",
        "user_id",
        "user_owner",
        "caller_arn",
        "via",
        "policy_version",
        "dry_run",
        "reasons",
        "reason",
        "kind",
        "minutes",
    }
)


def _trail_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The trail as people read it: each entry a line of when, which job, what, and for a decision its
    action and rule, who asked and the policy version; then its other details as `name=value` (JSON
    values, what is empty left out), and its reasons one a line. The details printed as a Python dict
    (`{'action': 'keep', 'asked_until': None, ...}`) buried the reasons in one long line."""
    import json

    job_width = max(len(e["job"]) for e in entries)
    what_width = max(len(e["what"]) for e in entries)
    lines = []
    for entry in entries:
        details = entry["details"]
        said = []
        if "rule" in details:
            action = details.get("action")
            said.append(f"{action} ({details['rule']})" if action else f"({details['rule']})")
        if details.get("user"):
            known = [str(details["user_id"])] if details.get("user_id") else []
            if details.get("user_owner"):  # the owner the policy mapped the Slack user to
                known.append(f"owner {details['user_owner']}")
            if details.get("caller_arn"):  # the AWS identity that ran the CLI: --user is only typed
                known.append(str(details["caller_arn"]))
            user_id = f" ({', '.join(known)})" if known else ""
            via = f" via {details['via']}" if details.get("via") else ""
            # what they asked, where the entry is no decision whose action says it (the pool found
            # InUse or gone, a press by someone who may not change it)
            kind = details.get("kind")
            what = f" to extend it {details.get('minutes')} min" if kind == "extend" else ""
            what = " to release it" if kind == "release" else what
            said.append(f"asked by {details['user']}{user_id}{via}{what}")
        if "policy_version" in details:
            version = details["policy_version"]
            said.append("built-in policy" if version is None else f"policy version {version}")
        if details.get("dry_run"):
            said.append("dry run: nothing changed")
        head = f"  {entry['at']}  {entry['job']:<{job_width}}  {entry['what']:<{what_width}}"
        lines.append(f"{head}  {', '.join(said)}".rstrip())
        rest = [
            f"{name}={value if isinstance(value, str) else json.dumps(value, default=str)}"
            for name, value in sorted(details.items())
            if name not in _HEADLINE and value not in (None, [], {}, "")
        ]
        if rest:
            lines.append(f"      {' '.join(rest)}")
        reasons = details.get("reasons") or []
        if details.get("reason"):
            reasons = [*reasons, details["reason"]]
        lines += [f"      - {reason}" for reason in reasons]
    return lines


def run_costs(args: argparse.Namespace) -> int:
    """Idle cost per team, today and this month on the team's clock (`day` is its date there): the
    ledger of idle gaps that ended plus the pools idle now, the same figures the budget rule checks,
    with each team's budget and what is left of it. A pool idle now counts until now, or until its
    expiry or its maximum lifetime's end (the deployment's, `deployment_limits`) once passed, when
    SageMaker ended it, as the digest and the budget rule count it (`fleet_view`, `idle_until`)."""
    from warmpool.cli.output import cli_now, deployment_limits
    from warmpool.domain.decide import FALLBACK_PRICE_PER_HOUR
    from warmpool.domain.model import WarmPoolStatus
    from warmpool.domain.policy import PolicyError, load_policy_file
    from warmpool.domain.policy.resolve import team_rules
    from warmpool.domain.policy.rules import ledger_zone
    from warmpool.service.lifecycle import fleet_view, team_of

    try:
        policy = load_policy_file(args.policy) if args.policy else _deployed_policy(args)
    except PolicyError as exc:
        return fail(str(exc))
    registry = _registry(args, audit=False)
    # every team the registry has seen (ended pools booked their cost), and every team with a budget;
    # an item that cannot be read is left out and named, the others counted (it failed every team's)
    unreadable: list[UnreadableItemError] = []
    records = registry.list_pools(unreadable=unreadable)
    known = {team_of(r.pool, policy) for r in records}
    unpriced = _unpriced_types(records, policy)
    # at the emulator's virtual clock against `warmpool emulator` (asked once the endpoint answered):
    # at the machine's, a pool it ended ten minutes ago had idled for months, or on another day
    now = cli_now(args.endpoint_url)
    budgeted = {t for t, rules in policy.teams.items() if rules.budget is not None}
    limits = deployment_limits()
    available = [r for r in records if r.pool.status is WarmPoolStatus.AVAILABLE]
    fleet = fleet_view(
        registry,
        policy,
        now,
        teams={*known, *budgeted},
        with_ledger=True,
        limits=limits,
        available=available,
    )
    rows: list[dict[str, Any]] = []
    for team in sorted(fleet.idle_cost_today_by_team):
        if args.team and team != args.team:
            continue
        budget = team_rules(policy, team).get("budget")
        today = fleet.idle_cost_today_by_team.get(team, 0.0)
        month = fleet.idle_cost_month_by_team.get(team, 0.0)
        booked = fleet.idle_cost_booked_by_team.get(team, 0.0)
        booked_today = fleet.idle_cost_booked_today_by_team.get(team, 0.0)
        booked_month = fleet.idle_cost_booked_month_by_team.get(team, 0.0)
        daily = budget.daily_usd if budget else None
        monthly = budget.monthly_usd if budget else None
        # what is left, from the figures as shown: the budget less the idle cost and the part of the
        # booked time before the day's (month's) end, each to the cent, adds up to the cent. Only
        # `booked_usd` (until expiry) was shown, and left read as a cent-wrong or a wrong difference
        # of the figures beside it (a pool booked past midnight counts for tomorrow's budget).
        today, month = round(today, 2), round(month, 2)
        booked_today, booked_month = round(booked_today, 2), round(booked_month, 2)
        rows.append(
            {
                "team": team,
                "day": now.astimezone(ledger_zone(policy, team)).date().isoformat(),
                "warm_instances": fleet.warm_instances_by_team.get(team, 0),
                "idle_today_usd": today,
                "idle_month_usd": month,
                "booked_usd": round(booked, 2),
                "booked_today_usd": booked_today,
                "booked_month_usd": booked_month,
                "daily_budget_usd": daily,
                # as the budget rule counts it: what is booked after the day (month) ends is the next one's
                "daily_left_usd": round(daily - today - booked_today, 2) if daily is not None else None,
                "monthly_budget_usd": monthly,
                "monthly_left_usd": round(monthly - month - booked_month, 2) if monthly is not None else None,
                "unpriced_instance_types": sorted(unpriced.get(team, ())),
                "by_instance_type": _costs_by_instance_type(
                    registry,
                    fleet,
                    team,
                    now.astimezone(ledger_zone(policy, team)),
                    unpriced.get(team, set()),
                ),
            }
        )
        for instance_type in sorted(unpriced.get(team, ())):
            note(
                f"team {team}: no price for {instance_type}, whose idle time is counted at a stand-in "
                f"${FALLBACK_PRICE_PER_HOUR:.2f} per instance-hour, not at what SageMaker bills: add it "
                "under `prices` in the policy (USD per instance-hour)"
            )
    if args.team and not rows:
        _no_such_team(args.team, set(fleet.idle_cost_today_by_team), " and the policy gives it no budget")
    if args.format == "json":
        print_json({"at": now.isoformat(), "teams": rows})
    elif args.by == "instance-type":
        # a line per team and instance type, the same figures as JSON's `by_instance_type`; a team with
        # nothing idle keeps a line of its own, which says so, rather than leaving the table
        nothing = {"instance_type": NOTHING_IDLE, **dict.fromkeys(COSTS_BY_TYPE_COLUMNS[3:], 0.0)}
        cells = [
            [
                row["team"],
                row["day"],
                part["instance_type"] or BOOKED_WITHOUT_TYPE,
                *(_cents(part[h]) for h in COSTS_BY_TYPE_COLUMNS[3:]),
            ]
            for row in rows
            for part in row["by_instance_type"] or [nothing]
        ]
        print(table(COSTS_BY_TYPE_COLUMNS, cells))
    else:
        # the same columns with no row (a --team no pool has): the header was `team` alone
        headers = COSTS_COLUMNS
        # dollars and cents, as every message says money: `5.00` and `3.60`, not the floats `5.0`, `3.6`
        cells = [[_cents(r[h]) if h.endswith("_usd") else r[h] for h in headers] for r in rows]
        print(table(headers, cells))
    return _left_out(unreadable, "left out of the costs (its idle time now is not counted)")


COSTS_COLUMNS = (
    "team",
    "day",
    "warm_instances",
    "idle_today_usd",
    "idle_month_usd",
    "booked_usd",
    "daily_budget_usd",
    "daily_left_usd",
    "monthly_budget_usd",
    "monthly_left_usd",
    # added last: a script reading the columns by position reads the ones before as it did
    "booked_today_usd",
    "booked_month_usd",
)


COSTS_BY_TYPE_COLUMNS = ("team", "day", "instance_type", "idle_today_usd", "idle_month_usd", "booked_usd")
# the table's name for what the ledger holds without an instance type (JSON: `"instance_type": null`)
BOOKED_WITHOUT_TYPE = "(no type: booked before the breakdown)"
NOTHING_IDLE = "(nothing idle)"  # a team with no idle cost today or this month, nor any booked


def _costs_by_instance_type(
    registry: Any, fleet: Any, team: str, at: datetime, unpriced: set[str]
) -> list[dict[str, Any]]:
    """The team's idle cost today and this month, and what its pools have booked, by instance type:
    the ledger's share of each type plus its pools idle now, so that the parts add up to the team's
    figures (each rounded to the cent on its own). What the ledger holds without a type (booked by the
    versions before the breakdown) is the part whose `instance_type` is None. Ordered by type, that
    part last; a team with nothing idle has none. `stand_in_price`: the type is in `unpriced`, its
    figures at the stand-in price, not the bill's."""
    day, month = registry.idle_cost_by_instance_type(team, at)
    today_now = {t: usd for (owner, t), usd in fleet.idle_now_today_by_team_type.items() if owner == team}
    month_now = {t: usd for (owner, t), usd in fleet.idle_now_month_by_team_type.items() if owner == team}
    booked = {t: usd for (owner, t), usd in fleet.idle_cost_booked_by_team_type.items() if owner == team}
    types: set[str | None] = {*day, *month, *today_now, *month_now, *booked}
    return [
        {
            "instance_type": instance_type,
            "idle_today_usd": round(day.get(instance_type, 0.0) + today_now.get(instance_type, 0.0), 2),
            "idle_month_usd": round(month.get(instance_type, 0.0) + month_now.get(instance_type, 0.0), 2),
            "booked_usd": round(booked.get(instance_type, 0.0), 2),
            "stand_in_price": instance_type in unpriced,
        }
        for instance_type in sorted(types, key=lambda t: (t is None, t or ""))
    ]


def _unpriced_types(records: Sequence[PoolRecord], policy: PolicyDocument) -> dict[str, set[str]]:
    """Each team's instance types, among its pools in the registry, that neither the policy's `prices`
    nor the built-in table prices: the engine books their idle time at a stand-in price (it keeps
    decisions defined), which `pools costs` added to the rest without a word, $1 an hour for an
    instance that may bill forty."""
    from warmpool.domain.pricing import UnknownInstanceTypeError, price_per_hour
    from warmpool.service.lifecycle import team_of

    unpriced: dict[str, set[str]] = {}
    for record in records:
        try:
            price_per_hour(record.pool.instance_type, policy.prices)
        except UnknownInstanceTypeError:
            unpriced.setdefault(team_of(record.pool, policy), set()).add(record.pool.instance_type)
    return unpriced


def _cents(usd: object) -> object:
    """A sum of money in the costs table; None (no budget) is the table's `-`."""
    return f"{usd:,.2f}" if isinstance(usd, float | int) else usd


def _deployed_policy(args: argparse.Namespace) -> Any:
    """The policy the functions use (the SSM parameter named by POLICY_PARAMETER_NAME), else none.
    Validated like a policy file: an invalid one is a PolicyError naming every problem."""
    from warmpool.cli.output import deployed_policy
    from warmpool.domain.policy.document import PolicyDocument

    name = os.environ.get("POLICY_PARAMETER_NAME")
    if not name:
        policy = PolicyDocument()
        # the untagged pools' team is the built-in one: its row may not be the deployed default team's
        print(
            "warmpool: no --policy and no POLICY_PARAMETER_NAME: built-in prices, no budgets, untagged "
            f"pools counted for the built-in default_team {policy.default_team}",
            file=sys.stderr,
        )
        return policy
    instead = "; pass --policy FILE" if args.pools_command in ("costs", "list") else ""
    return deployed_policy(name, args.endpoint_url, args.region, instead)


def run_request(args: argparse.Namespace) -> int:
    from warmpool.cli.output import EndpointClock, aws_client
    from warmpool.domain.policy import PolicyError
    from warmpool.service.ports import NullMetrics
    from warmpool.service.wiring import OVERRIDES, build_lifecycle_service
    from warmpool.settings import EngineSettings, SettingsError

    checked_endpoint(args.endpoint_url)
    checked_region(args.region)
    env = dict(os.environ)
    if args.table:
        env["POOLS_TABLE_NAME"] = args.table
    env["AUDIT_TABLE_NAME"] = _audit_table(args)
    missing = [name for name in EngineSettings.required_env_vars() if not env.get(name)]
    if missing:  # the engine's own error tells a Lambda's operator to set them "on the function"
        return fail(
            f"pools {args.kind} acts through the engine, which needs {', '.join(missing)}: export the "
            "stack's outputs (docs/cli.md)"
        )
    try:
        settings = EngineSettings.from_env(env)
    except SettingsError as exc:
        return fail(f"{exc} (export the stack's outputs, see docs/cli.md)")
    try:
        # The engine's policy source, new in this process, has no last good document to keep: an
        # invalid one was replaced by the built-in policy without a word, and the request decided by
        # rules the functions do not apply (120 minutes' extension where the policy allows 60).
        _deployed_policy(args)
    except PolicyError as exc:
        problems = "".join(f"\n  - {p}" for p in exc.problems)
        return fail(
            f"pools {args.kind} acts under the deployed policy {exc.source}, which is invalid:{problems}\n"
            "fix it (warmpool policy validate FILE) and deploy it; the functions keep their last good "
            "one meanwhile"
        )
    # The engine's clients are built by the functions' wiring: the flags reach them through its
    # overrides, for this request only.
    saved = (OVERRIDES.endpoint_url, OVERRIDES.region)
    OVERRIDES.endpoint_url = args.endpoint_url or saved[0]
    OVERRIDES.region = args.region or saved[1]
    try:
        # decided, scheduled and audited at the emulator's virtual clock against `warmpool emulator`:
        # at the machine's, months on, a pool it ended minutes ago had long expired, and an extension
        # was counted from the machine's now and capped at the horizon (a local harness brings its own)
        clock = OVERRIDES.clock or EndpointClock(OVERRIDES.endpoint_url)
        # who really asks: `--user` is a name anyone may type; the trail records the AWS identity
        # beside it (GetCallerIdentity needs no permission). Asked before anything is done.
        sts = aws_client("sts", OVERRIDES.endpoint_url, OVERRIDES.region)
        caller_arn = str(sts.get_caller_identity()["Arn"])
        service = build_lifecycle_service(settings, metrics=NullMetrics(), clock=clock)
        return _request(service, args, caller_arn)
    finally:
        OVERRIDES.endpoint_url, OVERRIDES.region = saved


def _request(service: Any, args: argparse.Namespace, caller_arn: str) -> int:
    """The request, through the engine, and its answer: in text, a line of the verdict and when, the
    rule and the reasons; in JSON (`--format json`), one document on stdout and nothing else, for a
    script (`jq`) that had to parse the text."""
    from warmpool.domain.clock import moment_text
    from warmpool.domain.model import UserRequest

    request = UserRequest(
        kind=args.kind, user=args.user, minutes=args.minutes, via="cli", caller_arn=caller_arn
    )
    # a job whose pool a later job reused names the pool as `pools show` does: act on its current job
    record = _pool_of_job(service.registry, args.job)
    if record is not None:
        # The trail is written after SageMaker is asked: an audit table that is not there (a stale
        # AUDIT_TABLE_NAME) failed the command with the pool already extended or released, and neither
        # the registry nor the trail knowing. Read before acting, it fails the command first.
        service.registry.audit_trail(record.pool.pool_id)
    job = record.pool.job_name if record is not None else args.job
    reused = f"{args.job}'s warm pool is now {job}'s (a later job reused it)"
    if job != args.job:
        # in JSON, stdout is the document alone (`asked_job` and `job` say it there)
        print(reused, file=sys.stderr if args.format == "json" else sys.stdout)
    decision = service.apply_user_request(job, request)
    verdict = decision.verdict(args.kind)
    now = service.clock.now().astimezone(UTC)
    if args.format == "json":
        print_json(
            {
                "request": args.kind,
                "asked_job": args.job,
                "job": job,
                "minutes": args.minutes if args.kind == "extend" else None,
                "user": args.user,
                "caller_arn": caller_arn,
                "verdict": verdict,
                "exit_code": EXIT_CODES[verdict],
                "at": now.isoformat(),
                "action": decision.action.value,
                "rule": decision.rule,
                "reasons": list(decision.reasons),
                "keep_alive_seconds": decision.keep_alive_seconds,
                "promised_until": decision.promised_until.isoformat() if decision.promised_until else None,
                "asked_until": decision.asked_until.isoformat() if decision.asked_until else None,
                "dry_run": decision.dry_run,
            }
        )
        return EXIT_CODES[verdict]
    # the date too: against the emulator its virtual clock is on another day than the reader's, and
    # an on-call engineer's answer after midnight read as the day before
    print(f"{args.kind} {job}: {verdict} at {moment_text(now)}")
    print(f"rule: {decision.rule}")
    for reason in decision.reasons:
        print(f"  - {reason}")
    return EXIT_CODES[verdict]
