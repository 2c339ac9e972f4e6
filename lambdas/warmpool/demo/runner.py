"""`warmpool demo`: a day of a platform with three teams, in accelerated virtual time, through the real
handlers on moto's server with the warm-pool emulator. It prints a timeline, a cost summary, writes an
HTML report, and checks its own expectations (exit 1 if one fails)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from warmpool.domain.messages import slack_unescape
from warmpool.emulator.jobs import training_job_request
from warmpool.local.stack import LocalSystem, start_local_system

if TYPE_CHECKING:
    from warmpool.adapters.registry import DynamoPoolRegistry
    from warmpool.domain.policy import PolicyDocument

LOCAL = ZoneInfo("Europe/Berlin")  # the example policy's working hours
START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
WEBHOOK_KEYS = ("vision", "nlp", "research", "platform")
NOT_THE_SAVINGS = (
    "a scripted day of a few jobs shows the features, not the savings: make bench replays traces"
)


def cost_basis(people_costs: list[float]) -> str:
    """What the cost of the day counts: a cold start's wait at the people's time the policy gives each
    job (`people_cost_per_hour`, its team's and selectors'), as the engine's decisions weigh it."""
    rates = sorted(set(people_costs))
    if not rates:
        return "idle warm instances + cold starts"
    told = " or ".join(f"{rate:g}" for rate in rates)
    return f"idle warm instances + cold starts at the policy's {told} $/h of people's time"


def local_zone() -> str:
    """The zone the story is told in, against the timeline's UTC: `Berlin is UTC+1` (the terminal and the
    report say it alike)."""
    hours = (START.astimezone(LOCAL).utcoffset() or timedelta()).total_seconds() / 3600
    return f"{LOCAL.key.split('/')[-1]} is UTC{hours:+g}"


def clock_time(at: datetime) -> str:
    """A moment of the day as the timeline reads it, in UTC: `08:25`, or `08:38:18` with its seconds."""
    at = at.astimezone(UTC)
    return f"{at:%H:%M:%S}" if at.second else f"{at:%H:%M}"


@dataclass
class Check:
    description: str
    passed: bool
    detail: str = ""


@dataclass
class JobCost:
    """What one job added to warmpool's cost of the day: the idle time of the pool it left warm, and its
    start when cold, each at the policy's prices (the report's table adds them up to warmpool's row)."""

    job: str
    instances: str  # `ml.g5.2xlarge x1`
    start: str  # `warm` or `cold`
    idle_seconds: float
    idle_usd: float
    cold_start_usd: float


@dataclass
class DemoResult:
    checks: list[Check] = field(default_factory=list)
    story: list[tuple[str, str]] = field(default_factory=list)  # each act: when, in Berlin, and what
    timeline: list[tuple[datetime, str, str]] = field(default_factory=list)
    cost_basis: str = "idle warm instances + cold starts"
    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    job_costs: list[JobCost] = field(default_factory=list)  # warmpool's row, job by job
    report_path: Path | None = None

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)


def _job(system: LocalSystem, name: str, *, minutes: float, tags: dict[str, str], **kwargs: Any) -> None:
    system.session.client("sagemaker").create_training_job(**training_job_request(name, tags=tags, **kwargs))
    system.control.run_for(name, minutes * 60)
    system.settle()


def _slack_press(system: LocalSystem, job: str, action: str, user: str) -> str:
    from warmpool.handlers import slack_interactive

    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.removeprefix("U0").lower()},  # U0BOB is bob
        "actions": [{"action_id": action, "value": json.dumps({"job": job, "pool": _pool_of(system, job)})}],
        "response_url": system.slack.url("responses"),
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    secret = "local-signing-secret"
    signature = (
        "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    )
    answered = len(system.slack.delivered("responses"))
    response = slack_interactive.handler(
        {"body": body, "headers": {"x-slack-request-timestamp": timestamp, "x-slack-signature": signature}},
        None,
    )
    system.settle()  # the worker applies the press and posts its outcome to the press's response_url
    outcomes = [m["body"]["text"] for m in system.slack.delivered("responses")[answered:]]
    # as Slack shows the answer: a rule that quotes a name with `<` or `&` in it reads as written
    return slack_unescape(str(outcomes[-1] if outcomes else json.loads(response["body"])["text"]))


def _registry(system: LocalSystem) -> DynamoPoolRegistry:
    from warmpool.adapters.registry import DynamoPoolRegistry

    return DynamoPoolRegistry(
        system.env.pools_table, system.session.client("dynamodb"), audit_table_name=system.env.audit_table
    )


def _pool_of(system: LocalSystem, job: str) -> str:
    return _registry(system).pool_id_for_job(job) or job


def _last_rule(system: LocalSystem, job: str) -> str | None:
    """The rule of the last decision the audit trail records for `job`'s pool (None: no decision)."""
    registry = _registry(system)
    decisions = [
        entry
        for entry in registry.audit_trail(_pool_of(system, job))
        if entry.job_name == job and entry.what == "decision"
    ]
    return str(decisions[-1].details.get("rule")) if decisions else None


def _warm(system: LocalSystem, job: str) -> str | None:
    described = system.session.client("sagemaker").describe_training_job(TrainingJobName=job)
    status = described.get("WarmPoolStatus") or {}
    return status.get("Status")


def run_demo(out_dir: Path, policy_file: Path, say: Callable[[str], None] = print) -> DemoResult:
    from warmpool.domain.policy import load_policy_file

    result = DemoResult()
    policy = load_policy_file(policy_file)
    system = start_local_system(start=START, policy_file=policy_file, webhook_keys=WEBHOOK_KEYS)
    try:
        _scenario(system, result, say, policy)
        _collect(system, result, policy)
        from warmpool.demo.report import write_report

        result.report_path = write_report(system, result, out_dir)
    finally:
        system.stop()
    return result


def _scenario(
    system: LocalSystem, result: DemoResult, say: Callable[[str], None], policy: PolicyDocument
) -> None:
    from warmpool.domain.policy.resolve import team_rules

    def act(text: str) -> None:  # each act at the moment it happens, on the clock of the example policy
        told = f"{system.now().astimezone(LOCAL):%H:%M} {LOCAL.key.split('/')[-1]}"
        result.story.append((told, text))
        say(f"{told}  {text}")

    vision = {"team": "vision", "owner": "alice"}
    act("vision iterates on a model: three runs with short gaps")
    _job(system, "vision-exp-1", minutes=25, tags=vision, keep_alive_seconds=600)
    system.advance(25 * 60)
    system.advance(8 * 60)
    _job(system, "vision-exp-2", minutes=20, tags=vision, keep_alive_seconds=600)
    warm_2 = system.emulator.job("vision-exp-2").warm_start
    system.advance(20 * 60)
    system.advance(6 * 60)
    _job(system, "vision-exp-3", minutes=30, tags=vision, keep_alive_seconds=600)
    warm_3 = system.emulator.job("vision-exp-3").warm_start
    system.advance(30 * 60)
    result.checks.append(
        Check("vision's second and third runs start warm on the first run's pool", warm_2 and warm_3)
    )
    act("alice presses 'Extend 60 min' in Slack")
    reply = _slack_press(system, "vision-exp-3", "warmpool_extend_60", "U0ALICE")
    result.checks.append(
        Check("an extension from Slack is applied through the policy", "done" in reply, reply)
    )
    result.timeline.append((system.now(), "slack", f"alice: Extend 60 min -> {reply}"))

    act("research launches a hyperparameter sweep (the tuner owns its pools)")
    research = {"team": "research", "owner": "carol"}
    trials = [
        training_job_request(f"sweep-trial-{i}", tags=research, keep_alive_seconds=300, volume_size_gb=100)
        for i in range(3)
    ]
    system.control.start_tuning_job("sweep-lr", trials)
    system.settle()
    for i in range(3):
        system.control.run_for(f"sweep-trial-{i}", 15 * 60)
    system.advance(16 * 60)
    untouched = not any(c["job"].startswith("sweep-trial") for c in system.control.update_calls())
    result.checks.append(Check("the sweep's pools are left to the tuner while it runs", untouched))
    system.control.complete_tuning_job("sweep-lr")
    system.settle()

    act("someone trains on a denied instance type (ml.p5.48xlarge)")
    _job(
        system,
        "p5-experiment",
        minutes=10,
        tags={"team": "vision", "owner": "bob"},
        instance_type="ml.p5.48xlarge",
        keep_alive_seconds=1800,
    )
    system.advance(11 * 60)
    result.checks.append(
        Check(
            "a pool of a denied instance type is released at once",
            _warm(system, "p5-experiment") == "Terminated",
        )
    )

    # the limit `--policy` gives nlp, not the example's: a policy that lets nlp keep three warm failed
    # the check that it kept no more than two, and the story still said two
    limit = team_rules(policy, "nlp").get("max_warm_instances")
    act(
        "nlp starts three pools; "
        + ("it has no warm-instance limit" if limit is None else f"its limit is {limit} warm instances")
    )
    nlp = {"team": "nlp", "owner": "bob"}
    for i, volume in enumerate((60, 70, 80)):  # three shapes, none of them vision's
        _job(
            system,
            f"nlp-run-{i}",
            minutes=5 + i * 5,
            tags=nlp,
            volume_size_gb=volume,
            keep_alive_seconds=1800,
        )
    system.advance(16 * 60)
    states = [_warm(system, f"nlp-run-{i}") for i in range(3)]
    if limit is not None:
        result.checks.append(
            Check(
                f"nlp stays within its limit of {limit} warm instances",
                states.count("Available") <= limit,
                f"states {states}",
            )
        )

    act("bob releases alice's extended pool from Slack (he is vision's admin)")
    reply = _slack_press(system, "vision-exp-3", "warmpool_release", "U0BOB")
    result.timeline.append((system.now(), "slack", f"bob: Release now -> {reply}"))
    result.checks.append(
        Check(
            "a release from Slack terminates the pool",
            "done" in reply and _warm(system, "vision-exp-3") == "Terminated",
            reply,
        )
    )

    system.advance(8 * 3600, tick=600)
    act("vision starts a 150-minute job; it ends after working hours (20:00)")
    _job(system, "vision-overnight", minutes=150, tags=vision, keep_alive_seconds=3600)
    system.advance(151 * 60, tick=300)
    overnight = _warm(system, "vision-overnight")
    # by the rule the audit trail names: Terminated alone passed a pool ended by any other rule (a
    # denied type, the strategy, a budget), and the check caught no regression of the working hours
    rule = _last_rule(system, "vision-overnight")
    result.checks.append(
        Check(
            "the overnight pool is released by the working-hours rule",
            overnight == "Terminated" and rule is not None and rule.endswith(".working_hours"),
            f"status {overnight}, its last decision's rule {rule or 'none'}",
        )
    )
    system.advance(2 * 3600, tick=600)
    from warmpool.handlers import reconciler
    from warmpool.local.pumps import LocalLambdaContext

    report = reconciler.handler({}, LocalLambdaContext())
    system.settle()
    result.checks.append(
        Check(
            "the reconciler finds no drift at the end of the day", not report["repaired"], json.dumps(report)
        )
    )
    limits = [c["seconds"] for c in system.control.update_calls()]
    result.checks.append(
        Check("no keep-alive update above one hour", all(s <= 3600 for s in limits), f"{len(limits)} updates")
    )


def _collect(system: LocalSystem, result: DemoResult, policy: PolicyDocument) -> None:
    from warmpool.domain.messages import blocks_as_text

    registry = _registry(system)
    for record in registry.list_pools():
        for entry in registry.audit_trail(record.pool.pool_id):
            details = entry.details
            if entry.what == "decision":
                keep = details.get("keep_alive_seconds")
                shown = "keep-alive unchanged" if keep is None else f"keep-alive {keep} s"
                text = (
                    f"{entry.job_name}: {details.get('action')} ({shown})"
                    f" by {details.get('rule')}: {'; '.join(details.get('reasons') or [])}"
                )
            elif entry.what == "recorded":
                text = f"{entry.job_name}: {details.get('state')} ({details.get('trigger')})"
            elif entry.what == "keep-alive-updated":
                # the decision's own line says why; this one says what SageMaker was told
                until = details.get("expires_at")
                if isinstance(until, str):  # a time of the day, as the timeline's: not an ISO timestamp
                    until = f"{clock_time(datetime.fromisoformat(until))} UTC"
                told = f"UpdateTrainingJob {details.get('seconds')} s, until {until}"
                text = f"{entry.job_name}: {told}"
            elif entry.what == "reused":
                text = f"{entry.job_name}: reused by {details.get('by')}"
            elif entry.what == "released-for-limit":  # another pool's decision: its rule and reasons
                text = (
                    f"{entry.job_name}: released for the limit, by {details.get('rule')}:"
                    f" {'; '.join(details.get('reasons') or [])}"
                )
            elif entry.what == "tuner-released":
                why = f"{details.get('reason')} ({details.get('trigger')})"
                text = f"{entry.job_name}: warmpool's to manage now: {why}"
            else:  # an entry the demo's day does not make: as recorded
                text = f"{entry.job_name}: {entry.what} {json.dumps(details, default=str)}"
            result.timeline.append((entry.at, entry.what, text))
    for message in system.slack.received:
        if message["path"] == "/responses" or message["status"] != 200:
            continue
        channel = message["path"].strip("/")
        result.timeline.append(
            (message["at"], f"slack #{channel}", blocks_as_text(message["body"]["blocks"]))
        )
    result.timeline.sort(key=lambda row: row[0])
    result.costs, result.cost_basis, result.job_costs = _costs(system, policy)


def _costs(
    system: LocalSystem, policy: PolicyDocument
) -> tuple[dict[str, dict[str, float]], str, list[JobCost]]:
    """What the day cost with warmpool, against no manager and against a fixed 60-minute keep-alive,
    and what it counts. Each job is priced as the engine's decisions price it under `policy`: its
    instance type at the policy's prices, its cold start at its team's (and selectors')
    `people_cost_per_hour`, `cold_start_seconds` and `warm_start_seconds`."""
    from warmpool.domain.decide import policy_cost_model
    from warmpool.domain.model import Pool, WarmPoolStatus
    from warmpool.domain.policy.resolve import pool_team
    from warmpool.simulator.replay import Scenario, replay
    from warmpool.simulator.trace import TraceJob

    jobs = [j for j in system.emulator.jobs.values() if j.ended_at is not None]
    managed_idle = 0.0
    managed_cold = 0.0
    trace: list[TraceJob] = []
    starts: dict[tuple[str, str | None], tuple[float, float, float]] = {}
    prices: dict[str, float] = {}
    each: list[JobCost] = []
    for job in sorted(jobs, key=lambda j: j.created_at):
        pool = Pool(job.name, job.name, job.arn, job.match_key, WarmPoolStatus.AVAILABLE, tags=job.tags)
        cost = policy_cost_model(policy, pool)
        count = job.match_key.instance_count
        idle_s = job.warm_pool.billable_seconds if job.warm_pool is not None else 0.0
        idle = idle_s * cost.idle_cost_per_second
        cold = 0.0 if job.warm_start else cost.cold_start_penalty
        managed_idle += idle
        managed_cold += cold
        each.append(
            JobCost(
                job.name,
                f"{job.match_key.instance_type} x{count}",
                "warm" if job.warm_start else "cold",
                idle_s,
                idle,
                cold,
            )
        )
        team = pool_team(policy, pool)
        starts[job.match_key.digest(), team] = (
            cost.people_cost_per_hour,
            cost.cold_start_s,
            cost.warm_start_s,
        )
        prices[job.match_key.instance_type] = cost.price_per_instance_hour
        trace.append(
            TraceJob(
                (job.created_at - START).total_seconds(),
                ((job.ended_at or job.created_at) - job.created_at).total_seconds(),
                job.match_key.digest(),
                team=team,
                instance_type=job.match_key.instance_type,
                instance_count=count,
            )
        )
    costs = {"warmpool": {"idle_usd": managed_idle, "cold_start_usd": managed_cold}}
    # each pool at its own instance type's price, as warmpool's row counts it: the baselines priced the
    # p5 job's cold start and idle hour at the g5's 1.515 $/h, warmpool's row at the p5's 113.068 $/h
    pool_types = {job.match_key.digest(): job.match_key.instance_type for job in jobs}
    scenario = Scenario(
        start=START,
        pool_types=pool_types,
        type_prices=prices,
        start_costs=starts,
    )
    for label, strategy in (
        ("no manager (no keep-alive)", "none"),
        ("fixed 60-minute keep-alive", "fixed-3600"),
    ):
        run = replay(sorted(trace, key=lambda t: t.submit_s), scenario, strategy)
        costs[label] = {"idle_usd": run.idle_cost_usd, "cold_start_usd": run.cold_start_cost_usd}
    return costs, cost_basis([people for people, _, _ in starts.values()]), each


def print_result(result: DemoResult, say: Callable[[str], None] = print) -> None:
    say(f"\nTimeline (virtual time, UTC; {local_zone()})")
    # the kind's column as wide as the widest kind of the day (`keep-alive-updated` pushed its row's
    # text two characters right of every other row's)
    kinds = max([16, *(len(kind) for _, kind, _ in result.timeline)])
    for at, kind, text in result.timeline:
        first, *rest = text.splitlines() or [""]
        say(f"  {at:%H:%M}  {kind:<{kinds}} {first}")
        for line in rest:
            say(f"  {'':5}  {'':<{kinds}} {line}")
    say(f"\nCost of the day ({result.cost_basis})")
    say(f"  ({NOT_THE_SAVINGS})")
    labels = max([28, *(len(label) for label in result.costs)])
    sums = [
        (r["idle_usd"], r["cold_start_usd"], r["idle_usd"] + r["cold_start_usd"])
        for r in result.costs.values()
    ]
    money = max([8, *(len(f"{usd:.2f}") for three in sums for usd in three)])
    for label, row in result.costs.items():
        total = row["idle_usd"] + row["cold_start_usd"]
        say(
            f"  {label:<{labels}} idle ${row['idle_usd']:{money}.2f}  "
            f"cold starts ${row['cold_start_usd']:{money}.2f}  total ${total:{money}.2f}"
        )
    say("\nChecks")
    for check in result.checks:
        say(
            f"  [{'PASS' if check.passed else 'FAIL'}] {check.description}"
            + (f" ({check.detail})" if not check.passed else "")
        )
    if result.report_path:
        say(f"\nHTML report: {result.report_path}")
    say("demo " + ("passed" if result.ok else "FAILED"))
