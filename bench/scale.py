"""warmpool at a platform team's scale: the registry and SageMaker (moto and the warm-pool emulator, in
process) seeded with N pool records of 50 teams and 20 running tuning jobs, and what one reconciler run,
one job's two lifecycle events and the daily digest cost there: wall time, AWS calls (counted by a
botocore `before-call` hook) and an estimate of the time in Lambda, against the functions' timeouts.

Each Available pool is as a decision leaves it: a keep-alive set in SageMaker, a planned look in
EventBridge Scheduler, idle-gap histories per shape and per team, idle cost booked for each team today.
A reused pool is in the registry as its lineage's InUse pool (the join) and in SageMaker as the
predecessor job's Reused warm pool. Terminated pools are registry records only: nothing the engine runs
reads them (`warmpool pools list` does).

The estimate in Lambda counts the time spent outside the AWS calls (measured, moto's own work excluded)
plus every call at the latencies of `LATENCY_MS` (typical in-region figures, rounded up): moto answers
in microseconds, AWS in milliseconds. Run alone: `python -m bench.scale [N ...]`."""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.constants import LIFECYCLE_BATCH_SIZE, LIFECYCLE_TIMEOUT_SECONDS, RECONCILER_TIMEOUT_SECONDS

SIZES = (100, 500, 2000)
TEAMS = 50
BIG_TEAM = "team-00"  # a fifth of the Available pools: the team whose job is decided
TUNING_JOBS = 20
TRIALS_WARM = 2  # Available pools each running tuning job holds (its trials', left to it)
SHAPES = 20  # instance type and volume: the pools of one shape are what a job's first event reads
DECIDED_SHAPE = 996  # the decided job's: of no other pool, ml.g5.2xlarge (its limit counts every team's)
INSTANCE_TYPES = ("ml.g5.2xlarge", "ml.g5.12xlarge", "ml.p4d.24xlarge", "ml.g5.4xlarge")
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday; the digest's hour is 9 (UTC)
ACCOUNT, REGION = "123456789012", "us-east-1"
LATENCY_MS = {"dynamodb": 10, "sagemaker": 100, "scheduler": 30, "sqs": 20, "ssm": 30}
OTHER_LATENCY_MS = 50
SQS_MESSAGE_LIMIT = 256 * 1024  # bytes: a queue's default MaximumMessageSize


@dataclass
class Calls:
    """The AWS calls made in a `window`, by `<service>.<operation>`, the items their Queries returned,
    and the time spent in them (moto's own work, in this process)."""

    counts: Counter[str] = field(default_factory=Counter)
    items_read: int = 0  # by the Queries
    in_calls: float = 0.0
    _began: list[float] = field(default_factory=list)
    _on: bool = False

    def before(self, event_name: str, **_: Any) -> None:
        if self._on:
            self.counts[event_name.split(".", 1)[1]] += 1
            self._began.append(time.perf_counter())

    def after(self, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if self._on and self._began:
            self.in_calls += time.perf_counter() - self._began.pop()
            self.items_read += int((parsed or {}).get("Count", 0))

    @contextmanager
    def window(self) -> Iterator[dict[str, Any]]:
        """Counts what runs in the block; the dict is filled in when the block ends."""
        self.counts.clear()
        self.in_calls, self.items_read, self._began, self._on = 0.0, 0, [], True
        out: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            yield out
        finally:
            wall = time.perf_counter() - started
            self._on = False
            own = max(0.0, wall - self.in_calls)
            waited = sum(n * _latency(op) for op, n in self.counts.items()) / 1000
            out.update(
                wall_s=round(wall, 3),
                own_s=round(own, 3),
                calls=sum(self.counts.values()),
                items_read=self.items_read,
                by_operation=dict(self.counts.most_common()),
                lambda_estimate_s=round(own + waited, 2),
            )


def _latency(operation: str) -> float:
    return LATENCY_MS.get(operation.split(".", 1)[0], OTHER_LATENCY_MS)


def _policy(digest: bool) -> dict[str, Any]:
    """A platform's policy: adaptive keep-alives, a limit and a budget per team, a limit on the biggest
    instance type (a decision then also counts every team's pools of that type)."""
    return {
        "version": 1,
        "default_team": BIG_TEAM,
        "defaults": {
            "keep_alive_strategy": "adaptive",
            "max_warm_instances": 1000,
            "budget": {"daily_usd": 1e6},
        },
        "instance_type_limits": {"ml.g5.2xlarge": 5000},
        "notifications": {"digest": {"enabled": digest, "hour": 9}},
    }


@contextmanager
def _local_aws(calls: Calls, quota: int) -> Iterator[Any]:
    """moto with the warm-pool emulator, the stack's resources, the handlers' environment pointed at
    them, and `calls` counting every client's calls; everything put back afterwards."""
    import boto3
    from moto import mock_aws
    from warmpool.domain.clock import ManualClock
    from warmpool.emulator import EmulatorConfig, warm_pool_emulator
    from warmpool.handlers import lifecycle, notifier, reconciler
    from warmpool.local.resources import create_local_environment
    from warmpool.observability import logger
    from warmpool.service import wiring

    fake = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_LOG_LEVEL": "WARNING",  # the functions' warnings and errors only (as `warmpool demo`)
    }
    saved_env = dict(os.environ)
    saved_session = boto3.DEFAULT_SESSION
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(fake)
    clock = ManualClock(START)
    config = EmulatorConfig(default_quota=quota, emit_events=False)
    try:
        with mock_aws(), warm_pool_emulator(config, clock) as emulator:
            boto3.setup_default_session()
            assert boto3.DEFAULT_SESSION is not None
            boto3.DEFAULT_SESSION.events.register("before-call.*.*", calls.before)
            boto3.DEFAULT_SESSION.events.register("after-call.*.*", calls.after)
            boto3.DEFAULT_SESSION.events.register("after-call-error.*.*", calls.after)
            env = create_local_environment(boto3)
            os.environ.update(env.env())
            wiring.OVERRIDES.clock, wiring.OVERRIDES.sleep = clock, emulator.advance
            for module in (lifecycle, reconciler, notifier):
                module.runtime.cache_clear()
            logger()  # on the real stdout: the functions' warnings show; their metrics (EMF) do not
            with redirect_stdout(io.StringIO()):
                yield emulator, env, clock
    finally:
        for module in (lifecycle, reconciler, notifier):
            module.runtime.cache_clear()
        wiring.OVERRIDES.clock = wiring.OVERRIDES.sleep = None
        os.environ.clear()
        os.environ.update(saved_env)
        boto3.DEFAULT_SESSION = saved_session


@dataclass
class Mix:
    records: int
    available: int
    in_use: int  # of which `reused` hold a reused pool
    reused: int
    terminated: int
    tuning_jobs: int


def mix(records: int) -> Mix:
    available, in_use = records // 4, records * 15 // 100
    return Mix(
        records, available, in_use, in_use // 3, records - available - in_use, min(TUNING_JOBS, records // 25)
    )


def _team(i: int) -> str:
    return BIG_TEAM if i % 5 == 0 else f"team-{1 + i % (TEAMS - 1):02d}"


def _request(name: str, shape: int, team: str, **extra: Any) -> dict[str, Any]:
    from warmpool.emulator.jobs import training_job_request

    tags = {
        "team": team,
        "owner": f"user-{zlib.crc32(name.encode()) % 200:03d}",
        "project": f"proj-{shape}",
        "cost-center": "ml",
    }
    instance_type = INSTANCE_TYPES[shape % len(INSTANCE_TYPES)]
    return training_job_request(
        name,
        instance_type=instance_type,
        volume_size_gb=50 + shape,
        keep_alive_seconds=3600,
        tags=tags,
        **extra,
    )


class _Untransacted:
    """A DynamoDB client whose TransactWriteItems writes each item alone, without its conditions: what
    the registry writes, seeded without moto's copy of the whole table per transaction (for its
    rollback), which makes seeding N pools cost N^2 in moto (DynamoDB has no such cost)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:  # noqa: N803 (boto3's)
        for entry in TransactItems:
            ((action, request),) = entry.items()
            request = {k: v for k, v in request.items() if k != "ConditionExpression"}
            if action == "Put":
                self._client.put_item(**request)
            elif action == "Update":
                values = request.get("ExpressionAttributeValues", {})
                used = {k: v for k, v in values.items() if k in request["UpdateExpression"]}
                self._client.update_item(**{**request, "ExpressionAttributeValues": used})
            elif action == "Delete":
                self._client.delete_item(TableName=request["TableName"], Key=request["Key"])


def seed(fleet: Mix, emulator: Any, env: Any, clock: Any) -> None:
    """SageMaker's jobs and warm pools, and the registry as the engine leaves it for them."""
    import boto3
    from warmpool.adapters.registry import DynamoPoolRegistry
    from warmpool.adapters.scheduler import EventBridgeStepScheduler
    from warmpool.domain.codec import gap_to_json
    from warmpool.domain.model import IdleGap, MatchKey, Pool, WarmPoolStatus
    from warmpool.emulator import LocalControl
    from warmpool.emulator.patch import create_training_job_direct
    from warmpool.service.ports import PoolRecord

    dynamodb = boto3.client("dynamodb")
    registry = DynamoPoolRegistry(env.pools_table, _Untransacted(dynamodb), audit_table_name=env.audit_table)
    steps = EventBridgeStepScheduler(
        boto3.client("scheduler"),
        group_name=env.scheduler_group,
        role_arn=env.scheduler_role_arn,
        target_arn=env.lifecycle_queue_arn,
    )
    control = LocalControl(emulator)
    now = clock.now()
    expires = now + timedelta(seconds=3600)

    def create(request: dict[str, Any]) -> str:
        return create_training_job_direct(ACCOUNT, REGION, request)

    def pool(request: dict[str, Any], arn: str, status: WarmPoolStatus, **changes: Any) -> Pool:
        name = request["TrainingJobName"]
        tags = {t["Key"]: t["Value"] for t in request["Tags"]}
        warm = status is WarmPoolStatus.AVAILABLE
        return Pool(
            pool_id=name,
            job_name=name,
            job_arn=arn,
            match_key=MatchKey.from_training_job(request),
            status=status,
            job_status="Completed" if status is not WarmPoolStatus.IN_USE else "InProgress",
            owner=tags["owner"],
            team=tags["team"],
            tags=tags,
            job_keep_alive_seconds=3600,
            keep_alive_seconds=3600,
            available_since=now if warm else None,
            expires_at=expires if warm else None,
            lifetime_started_at=now - timedelta(hours=2),
            horizon_at=expires if warm else None,
            steps_taken=1,
            lineage=(name,),
            lineage_jobs=1,
            **changes,
        )

    # Running jobs first (none may take a warm pool), then the jobs that end: their pools Available.
    in_use = [_request(f"run-{i:04d}", i % SHAPES, _team(i)) for i in range(fleet.in_use - fleet.reused)]
    warm = [
        _request(f"warm-{i:04d}", i % SHAPES, _team(i))
        for i in range(fleet.available - fleet.tuning_jobs * TRIALS_WARM)
    ]
    first = [_request(f"first-{i:04d}", SHAPES + i, _team(i)) for i in range(fleet.reused)]
    arns = {r["TrainingJobName"]: create(r) for r in in_use + warm + first}
    tuned: list[tuple[dict[str, Any], str, str]] = []
    for t in range(fleet.tuning_jobs):
        trials = [
            _request(f"hpo-{t:02d}-{k}", SHAPES + fleet.reused + t, _team(t)) for k in range(TRIALS_WARM)
        ]
        tuning_arn = control.start_tuning_job(f"hpo-{t:02d}", trials, max_parallel=TRIALS_WARM)
        tuned += [(trial, trial["TrainingJobName"], tuning_arn) for trial in trials]
    for name in [r["TrainingJobName"] for r in warm + first] + [name for _, name, _ in tuned]:
        emulator.complete_job(name, ACCOUNT, REGION)
    then = [_request(f"then-{i:04d}", SHAPES + i, _team(i)) for i in range(fleet.reused)]
    arns.update({r["TrainingJobName"]: create(r) for r in then})

    for request in in_use:
        registry.put(PoolRecord(pool(request, arns[request["TrainingJobName"]], WarmPoolStatus.IN_USE)), None)
    for before, after in zip(first, then, strict=True):
        joined = pool(before, arns[before["TrainingJobName"]], WarmPoolStatus.IN_USE)
        lineage = (before["TrainingJobName"], after["TrainingJobName"])
        joined = joined.with_changes(
            job_name=lineage[1], job_arn=arns[lineage[1]], lineage=lineage, lineage_jobs=2
        )
        registry.put(PoolRecord(joined), None)
    at = expires - timedelta(minutes=5)
    left_to: list[tuple[dict[str, Any], str | None]] = [(r, None) for r in warm]
    for request, tuner in left_to + [(r, a) for r, _, a in tuned]:
        name = request["TrainingJobName"]
        job = emulator.job(name, ACCOUNT, REGION)
        changes: dict[str, Any] = {"tuning_job_arn": tuner} if tuner else {}
        schedule = steps.schedule(pool_id=name, job_name=name, step=1, at=at, purpose="expiring-soon")
        record = PoolRecord(
            pool(request, job.arn, WarmPoolStatus.AVAILABLE, **changes),
            next_check_at=at,
            schedule_name=schedule,
            tuner_owned=tuner is not None,
        )
        registry.put(record, None)
    for i in range(fleet.terminated):
        request = _request(f"done-{i:04d}", i % SHAPES, _team(i))
        registry.put(PoolRecord(pool(request, "", WarmPoolStatus.TERMINATED)), None)

    gaps = json.dumps(
        [
            gap_to_json(IdleGap(now - timedelta(hours=64 - g), 60.0 * (1 + g * 7 % 90), g % 3 != 0))
            for g in range(64)
        ]
    )
    digests = {MatchKey.from_training_job(r).digest() for r in in_use + warm + first}
    histories = [f"HIST#KEY#{d}" for d in digests] + [f"HIST#TEAM#{_team(i)}" for i in range(TEAMS)]
    for pk in histories:
        item = {"pk": {"S": pk}, "sk": {"S": "GAPS"}, "gaps": {"S": gaps}, "version": {"N": "1"}}
        dynamodb.put_item(TableName=env.pools_table, Item=item)
    for i in range(TEAMS):
        registry.add_idle_cost(_team(i), now, 12.5, f"seed-{i}")


def measure(records: int) -> dict[str, Any]:
    import boto3
    from warmpool.adapters.registry import DynamoPoolRegistry
    from warmpool.emulator.patch import create_training_job_direct
    from warmpool.handlers import lifecycle, reconciler
    from warmpool.local.pumps import LocalLambdaContext, QueuePump

    fleet = mix(records)
    calls = Calls()
    out: dict[str, Any] = {"mix": fleet.__dict__}
    with _local_aws(calls, quota=records * 2) as (emulator, env, clock):
        ssm, sqs = boto3.client("ssm"), boto3.client("sqs")
        registry = DynamoPoolRegistry(
            env.pools_table, boto3.client("dynamodb"), audit_table_name=env.audit_table
        )

        def set_policy(digest: bool) -> None:
            ssm.put_parameter(Name=env.policy_parameter, Value=json.dumps(_policy(digest)), Overwrite=True)

        started = time.perf_counter()
        set_policy(digest=False)
        seed(fleet, emulator, env, clock)
        out["seed_s"] = round(time.perf_counter() - started, 2)

        # the first run after seeding also checks the tuning jobs' watches (once per check interval)
        reconciler.handler({}, LocalLambdaContext())
        with calls.window() as run:
            report = reconciler.handler({}, LocalLambdaContext())
        run["repairs"] = len(report["repaired"]) + len(report["rescheduled"])
        run["failed"] = len(report["failed"])
        if (
            report["available_in_sagemaker"] != fleet.available
            or report["available_in_registry"] != fleet.available
        ):
            raise AssertionError(f"the reconciler saw {report}, not {fleet.available} Available pools")
        out["reconciler"] = run

        # one job of the biggest team, of a shape of its own: a cold start, then its pool decided
        emulator.config.emit_events = True
        events: dict[str, dict[str, Any]] = {}

        def timed(event: dict[str, Any], context: Any) -> Any:
            with calls.window() as one:
                response = lifecycle.handler(event, context)
            events[f"event{len(events) + 1}"] = one
            return response

        pump = QueuePump(sqs, env.lifecycle_queue_url, timed, batch_size=1)
        name = "decided"
        create_training_job_direct(ACCOUNT, REGION, _request(name, DECIDED_SHAPE, BIG_TEAM))
        pump.drain()
        emulator.complete_job(name, ACCOUNT, REGION)
        pump.drain()
        out["cold_start"], out["decision"] = events.get("event1", {}), events.get("event2", {})
        record = registry.get(name)
        if not out["decision"] or record is None or record.last_decision is None:
            raise AssertionError("the job's Completed event was not decided")
        out["decision"]["decided"] = f"{record.last_decision.action.value} ({record.last_decision.rule})"

        sqs.purge_queue(QueueUrl=env.notify_queue_url)
        set_policy(digest=True)
        service, _ = reconciler.runtime()
        with calls.window() as digest:
            teams = service.send_digests(clock.now())
        bodies = []
        while batch := sqs.receive_message(QueueUrl=env.notify_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            bodies += [len(m["Body"].encode()) for m in batch]
            sqs.delete_message_batch(
                QueueUrl=env.notify_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        digest["teams"] = len(teams)
        digest["largest_message_bytes"] = max(bodies, default=0)
        biggest_team = fleet.available // 5 + (fleet.available % 5 > 0)
        digest["bytes_per_pool"] = round(max(bodies, default=0) / max(1, biggest_team))
        out["digest"] = digest
    return out


PARTS = (
    ("reconciler", "reconciler run"),
    ("cold_start", "cold start"),
    ("decision", "decision"),
    ("digest", "digest"),
)


def _growth(rows: dict[int, dict[str, Any]], part: str, key: str) -> str:
    """How `key` of `part` grows from the smallest size to the largest."""
    a, b = rows[min(rows)][part][key], rows[max(rows)][part][key]
    return f"{b / a:.1f}x" if a else "-"


def main(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    per_event = LIFECYCLE_TIMEOUT_SECONDS / LIFECYCLE_BATCH_SIZE
    latencies = ", ".join(f"{service} {ms} ms" for service, ms in LATENCY_MS.items())
    print(
        f"at a platform's scale: {TEAMS} teams, up to {TUNING_JOBS} running tuning jobs; a quarter of the "
        f"records Available ({BIG_TEAM}\nholds a fifth of them), 15% InUse (a third on a reused pool), the "
        "rest Terminated. s: wall time in process (moto);\nest.: in Lambda, the time outside the AWS calls "
        f"plus each call at {latencies}.\n{BIG_TEAM}'s job: its cold start, then its pool decided. Timeouts: "
        f"reconciler {RECONCILER_TIMEOUT_SECONDS} s, lifecycle {LIFECYCLE_TIMEOUT_SECONDS} s a batch of "
        f"{LIFECYCLE_BATCH_SIZE} events\n"
    )
    header = f"  {'records':>7} {'Available':>9}" + "".join(f"  {title:>22}" for _, title in PARTS)
    print(header + f"  {'digest KB':>9}")
    print(f"  {'':>17}" + "".join(f"  {'s':>7} {'calls':>6} {'est. s':>7}" for _ in PARTS))
    rows: dict[int, dict[str, Any]] = {}
    for records in sizes:
        row = rows[records] = measure(records)
        cells = "".join(
            f"  {row[part]['wall_s']:>7.2f} {row[part]['calls']:>6} {row[part]['lambda_estimate_s']:>7.1f}"
            for part, _ in PARTS
        )
        largest = row["digest"]["largest_message_bytes"] / 1024
        print(f"  {records:>7} {row['mix']['available']:>9}{cells}  {largest:>9.0f}", flush=True)
    large = rows[max(rows)]
    if len(rows) > 1:
        available = large["mix"]["available"] / max(1, rows[min(rows)]["mix"]["available"])
        print(
            f"  from {min(rows)} to {max(rows)} records ({available:.0f}x the Available pools): reconciler "
            f"calls {_growth(rows, 'reconciler', 'calls')}, time outside them "
            f"{_growth(rows, 'reconciler', 'own_s')}; decision calls {_growth(rows, 'decision', 'calls')}, "
            f"pools read {_growth(rows, 'decision', 'items_read')}"
        )
    reconciler, decision, digest = large["reconciler"], large["decision"], large["digest"]
    print(
        f"  at {max(rows)} records: reconciler {reconciler['lambda_estimate_s']:.0f} s of "
        f"{RECONCILER_TIMEOUT_SECONDS} ("
        + ", ".join(f"{op} {n}" for op, n in reconciler["by_operation"].items())
        + f");\n  decision {decision['lambda_estimate_s']:.1f} s of {per_event:.0f} an event "
        f"({decision['decided']}); digest: {digest['teams']} teams, the largest "
        f"{digest['largest_message_bytes'] / 1024:.0f} KB of SQS's {SQS_MESSAGE_LIMIT // 1024} KB "
        f"({digest['bytes_per_pool']} bytes a pool)"
    )
    return {str(records): row for records, row in rows.items()}


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
