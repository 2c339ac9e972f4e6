"""A day of a few hundred jobs through the whole system while AWS misbehaves, then invariants checked
against ground truth: the emulator's record of every keep-alive update and state, what SNS subscribers
received, and the registry's audit trail. Run alone with `make chaos`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.retries.bucket import TokenBucket
from warmpool.domain.history import HISTORY_LIMIT
from warmpool.domain.policy import parse_policy
from warmpool.domain.policy.rules import in_working_hours
from warmpool.domain.pricing import price_per_hour
from warmpool.emulator import EmulatorConfig
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler
from warmpool.local.pumps import LocalLambdaContext
from warmpool.local.slack_standin import SlackStandIn
from warmpool.observability import logger

from tests.integration.conftest import START, System, subscribe

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

SEED = 7
TICK = 120
DAY = int(float(os.environ.get("CHAOS_HOURS", "24")) * 3600)
RECONCILE_EVERY = 300
HOURS = {"timezone": "UTC", "start": "08:00", "end": "20:00", "outside": "shorten", "shorten_to_minutes": 10}
MAX_HORIZON_MINUTES = 180
POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {
        "keep_alive_strategy": "adaptive",
        "max_horizon_minutes": MAX_HORIZON_MINUTES,
        "people_cost_per_hour": 100,
        "working_hours": HOURS,
        "max_warm_instances": 8,
    },
    "notifications": {
        "slack_users": {f"user{i}": f"U{i}" for i in range(4)},
        "teams": {f"team{i}": {"slack_webhook_key": f"team{i}", "admins": [f"user{i}"]} for i in range(4)},
    },
}


@dataclass
class Faults:
    rng: random.Random
    counts: Counter[str] = field(default_factory=Counter)
    held: list[str] = field(default_factory=list)
    crash_armed: threading.local = field(default_factory=threading.local)
    crashes_by_job: Counter[str] = field(default_factory=Counter)

    def shuffle_queue(self, system: System) -> None:
        """Drop 5 %, delay 10 % and reorder SageMaker events on their way to the lifecycle function."""
        bodies = [m["Body"] for m in system.messages(system.env.lifecycle_queue_url)]
        released, self.held = self.held, []
        for body in bodies:
            is_event = '"aws.sagemaker"' in body
            roll = self.rng.random()
            if is_event and roll < 0.05:
                self.counts["events dropped"] += 1
            elif is_event and roll < 0.15:
                self.counts["events delayed"] += 1
                self.held.append(body)
            else:
                released.append(body)
        self.rng.shuffle(released)
        self.counts["events reordered"] += len(released) > 1
        for body in released:
            system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)

    def drop_tick(self, _name: str) -> bool:
        if self.rng.random() < 0.05:
            self.counts["scheduler ticks lost"] += 1
            return True
        return False

    def before_update(self, params: dict[str, Any], **_: Any) -> None:
        self.crash_armed.job = params.get("TrainingJobName", "")

    def after_update(self, **_: Any) -> None:
        self.crash_armed.value = True

    def after_gap_write(self, params: dict[str, Any], **_: Any) -> None:
        if params["Item"].get("pk", {}).get("S", "").startswith("HIST#KEY#"):
            self.crash_armed.gap = True

    def before_registry_write(self, **_: Any) -> None:
        if getattr(self.crash_armed, "gap", False):
            self.crash_armed.gap = False
            if self.rng.random() < 0.1:
                self.counts["crashes after an idle gap was written"] += 1
                raise RuntimeError("injected crash between an idle gap's write and the next registry write")
        if getattr(self.crash_armed, "value", False):
            self.crash_armed.value = False
            if self.rng.random() < 0.1:
                self.counts["crashes after UpdateTrainingJob"] += 1
                self.crashes_by_job[getattr(self.crash_armed, "job", "")] += 1
                raise RuntimeError("injected crash between UpdateTrainingJob and the registry write")


def workload(rng: random.Random) -> list[tuple[float, str, dict[str, Any]]]:
    """(start second, job name, request): 16 match keys in 4 teams, busier in the day."""
    jobs = []
    for key in range(16):
        team, owner = f"team{key % 4}", f"user{key % 4}"
        t = rng.uniform(0, 3600)
        n = 0
        while t < DAY - 3 * 3600:
            n += 1
            name = f"k{key}-{n}"
            request = training_job_request(
                name, keep_alive_seconds=600, volume_size_gb=50 + key, tags={"team": team, "owner": owner}
            )
            jobs.append((t, name, request))
            hour = (START + timedelta(seconds=t)).hour
            mean_gap = 900 if 8 <= hour < 20 else 4 * 3600
            t += rng.uniform(5, 40) * 60 + rng.expovariate(1 / mean_gap)
    return sorted(jobs, key=lambda j: j[0])


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(duplicate_probability=0.10, seed=SEED)


def reconcile(faults: Faults) -> None:
    """The scheduled reconciler; an invocation that fails is retried by the next one, as in Lambda."""
    try:
        reconciler.handler({}, LocalLambdaContext())
    except RuntimeError:
        faults.counts["reconciler runs failed (retried by the next)"] += 1


def test_a_day_of_faults_leaves_every_invariant_at_zero(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Virtual time: botocore's and slack-sdk's retry back-offs must not sleep for real.
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    # botocore's adaptive mode also rate-limits the client after throttling, waiting in real time.
    monkeypatch.setattr(TokenBucket, "acquire", lambda _self, amount=1, block=True: True)
    quiet_logs = logger()
    quiet_logs.setLevel(logging.CRITICAL)  # the injected failures are expected: keep the output readable
    rng = random.Random(SEED)
    faults = Faults(random.Random(SEED + 1))
    slack = SlackStandIn().start()
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({f"team{i}": slack.url(f"team{i}") for i in range(4)}),
    )
    system.set_policy(POLICY)
    listener = subscribe(system.env.topic_arn, "chaos-listener")
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("provide-client-params.sagemaker.UpdateTrainingJob", faults.before_update)
    session.events.register("after-call.sagemaker.UpdateTrainingJob", faults.after_update)
    session.events.register("before-call.dynamodb.TransactWriteItems", faults.before_registry_write)
    session.events.register("provide-client-params.dynamodb.PutItem", faults.after_gap_write)
    for client_module in (lifecycle, reconciler):
        client_module.runtime.cache_clear()
    jobs = workload(rng)
    for operation in ("DescribeTrainingJob", "UpdateTrainingJob", "ListTrainingJobs"):
        system.control.inject_faults(operation, "ThrottlingException", probability=0.10)
        system.control.inject_faults(operation, "InternalFailure", probability=0.10)

    received: list[dict[str, Any]] = []
    elapsed = 0.0
    next_job = 0
    races = 0
    while elapsed < DAY:
        while next_job < len(jobs) and jobs[next_job][0] <= elapsed:
            _, name, request = jobs[next_job]
            system.sagemaker.create_training_job(**request)
            system.control.run_for(name, rng.uniform(5, 40) * 60)
            next_job += 1
        if rng.random() < 0.05:
            slack.answers.extend([rng.choice([429, 500])])
            faults.counts["Slack 429/500"] += 1
        system.emulator.advance(TICK)
        elapsed += TICK
        faults.shuffle_queue(system)
        for _ in range(20):
            moved = system.lifecycle.drain() + system.schedules.fire_due(drop=faults.drop_tick)
            moved += system.notifier.drain()
            if not moved:
                break
        if int(elapsed) % RECONCILE_EVERY < TICK:
            reconcile(faults)
        if int(elapsed) % 7200 < TICK:
            races += race_two_invocations(system)
        received.extend(json.loads(json.loads(m["Body"])["Message"]) for m in system.messages(listener))
    faults.counts["concurrent invocations of one pool"] = races
    faults.counts["SageMaker calls failed (throttling, 5xx)"] = sum(system.emulator.fault_counts.values())

    # the faults stop; one reconciler period later everything must be repaired
    system.control.clear_faults()
    for body in faults.held:
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)
    faults.held = []
    session.events.unregister("before-call.dynamodb.TransactWriteItems", faults.before_registry_write)
    session.events.unregister("provide-client-params.dynamodb.PutItem", faults.after_gap_write)
    system.settle()
    system.emulator.advance(RECONCILE_EVERY)
    system.settle()
    reconciler.handler({}, LocalLambdaContext())
    system.settle()
    received.extend(json.loads(json.loads(m["Body"])["Message"]) for m in system.messages(listener))
    slack.stop()

    quiet_logs.setLevel(logging.INFO)
    figures = invariants(system, received, faults.crashes_by_job)
    print("\nchaos replay:", len(jobs), "jobs,", len(system.control.update_calls()), "keep-alive updates")
    for name, count in sorted(faults.counts.items()):
        print(f"  fault  {name:<45} {count}")
    for name, (count, examples) in figures.items():
        print(f"  check  {name:<45} {count}" + (f"   e.g. {examples[:3]}" if count else ""))
    assert len(jobs) >= 300 or DAY < 24 * 3600
    assert all(count == 0 for count, _ in figures.values()), {k: v for k, v in figures.items() if v[0]}


def race_two_invocations(system: System) -> int:
    """Deliver one pool's step message to two concurrent invocations (threads) of the handler."""
    available = system.registry.list_by_status("Available")
    if not available:
        return 0
    pool = available[0].pool
    body = json.dumps(
        {
            "source": "warmpool.scheduler",
            "detail-type": "Warm Pool Step Due",
            "detail": {
                "PoolId": pool.pool_id,
                "TrainingJobName": pool.job_name,
                "Step": 99,
                "Purpose": "step",
            },
        }
    )
    for _ in range(2):
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)
    messages = system.sqs.receive_message(
        QueueUrl=system.env.lifecycle_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", [])
    threads = [
        threading.Thread(
            target=lambda m=m: system.lifecycle._handler(
                {"Records": [system.lifecycle._record(m)]}, LocalLambdaContext()
            )
        )
        for m in messages
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for message in messages:
        system.sqs.change_message_visibility(
            QueueUrl=system.env.lifecycle_queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    system.settle()
    return 1


def invariants(
    system: System, received: list[dict[str, Any]], crashes_by_job: Counter[str]
) -> dict[str, tuple[int, list[str]]]:
    emulator = system.emulator
    policy = parse_policy(POLICY)
    hours = policy.defaults.working_hours
    assert hours is not None
    updates = emulator.update_calls
    figures: dict[str, tuple[int, list[str]]] = {}

    over = [f"{u['job']}@{u['at']:%H:%M}" for u in updates if u["seconds"] > 3600]
    figures["keep-alive set above a limit"] = (len(over), over)

    past = [
        j.name
        for j in emulator.jobs.values()
        if j.warm_pool is not None and j.warm_pool.billable_seconds > MAX_HORIZON_MINUTES * 60 + TICK
    ]
    figures["pools kept past their policy horizon"] = (len(past), past)

    expiry: dict[str, datetime] = {}
    timeline: list[tuple[datetime, int, str, int, str]] = []
    for job in emulator.jobs.values():
        if job.cluster is not None and job.ended_at is not None:
            timeline.append((job.ended_at, 0, job.cluster.cluster_id, 600, job.name))
    for u in updates:
        timeline.append((u["at"], 1, u["cluster"], u["seconds"], u["job"]))
    outside = []
    for at, kind, cluster, seconds, job_name in sorted(timeline):
        new = at + timedelta(seconds=seconds)
        if (
            kind == 1
            and not in_working_hours(hours, at)
            and new > expiry.get(cluster, at) + timedelta(seconds=1)
        ):
            outside.append(f"{job_name}@{at:%H:%M}")
        expiry[cluster] = new
    figures["extensions outside working hours"] = (len(outside), outside)

    releases_without_decision = []
    for u in (u for u in updates if u["seconds"] == 0):
        pool_id = system.registry.pool_id_for_job(u["job"])
        trail = system.registry.audit_trail(pool_id) if pool_id else []
        # the release's reason, audited with the update itself or as the decision
        decided = any(
            e.what in ("decision", "keep-alive-updated", "released-for-limit")
            and e.job_name == u["job"]
            and (e.details.get("action") == "release" or e.what == "released-for-limit")
            for e in trail
        )
        if not decided:
            audit = [f"{e.at:%H:%M:%S} {e.what} {e.details.get('action', '')}".strip() for e in trail]
            releases_without_decision.append(f"{u['job']} released at {u['at']}; audit: {audit}")
    figures["pools released that the policy said to keep"] = (
        len(releases_without_decision),
        releases_without_decision,
    )

    keys = Counter((d["pool_id"], d["kind"], d["version"]) for d in received)
    duplicates = [f"{k[0]}:{k[1]}" for k, n in keys.items() if n > 1]
    figures["duplicate notifications"] = (len(duplicates), duplicates)

    told = defaultdict(set)
    for d in received:
        told[d["job_name"]].add(d["kind"])
    # A pool is told about within one reconciler period (and a tick) of becoming Available; each crash
    # between its UpdateTrainingJob and the registry write costs one more period (the next run retries).
    silent = [
        j.name
        for j in emulator.jobs.values()
        if j.warm_pool is not None
        and j.warm_pool.billable_seconds >= (RECONCILE_EVERY + TICK) * (1 + crashes_by_job[j.name])
        and not told[j.name]
    ]
    figures["Available pools never notified"] = (len(silent), silent)

    drift = []
    for record in system.registry.list_pools():
        truth = emulator.job(record.pool.job_name).warm_pool
        if truth is not None and truth.status != record.pool.status.value:
            drift.append(f"{record.pool.job_name}: {record.pool.status.value} vs {truth.status}")
    known = {r.pool.job_name for r in system.registry.list_by_status("Available")}
    for job in emulator.jobs.values():
        if job.warm_pool is not None and job.warm_pool.status == "Available" and job.name not in known:
            drift.append(f"{job.name}: Available, not in the registry")
    figures["drift unrepaired one reconciler period later"] = (len(drift), drift)

    dead = {
        json.loads(m["Body"]).get("detail", {}).get("TrainingJobName")
        for m in system.messages(system.env.lifecycle_dlq_url)
        if m["Body"].startswith("{")
    }
    untraced = [
        j.name
        for j in emulator.jobs.values()
        if system.registry.pool_id_for_job(j.name) is None and j.name not in dead
    ]
    figures["jobs lost without a trace in the DLQ or the audit"] = (len(untraced), untraced)

    # What each team's ledger booked against what SageMaker billed its warm pools: each gap is booked
    # once, as it ends, so the pools still idle are billed and not booked yet.
    billed: defaultdict[str, float] = defaultdict(float)
    idle_still: defaultdict[str, float] = defaultdict(float)
    for job in emulator.jobs.values():
        if job.warm_pool is not None:
            per_second = price_per_hour(job.match_key.instance_type) * job.match_key.instance_count / 3600
            billed[job.tags["team"]] += job.warm_pool.billable_seconds * per_second
            if job.warm_pool.status == "Available":
                idle_still[job.tags["team"]] += job.warm_pool.billable_seconds * per_second
    end = system.control.now()
    over, under = [], []
    for team, usd in sorted(billed.items()):
        booked, idle = system.registry.idle_cost(team, end)[1], idle_still[team]
        print(f"  {team}: booked {booked:.2f} $, billed {usd:.2f} $, of which idle still {idle:.2f} $")
        if booked > usd * 1.01 + 0.01:
            over.append(f"{team}: booked {booked:.2f} $, billed {usd:.2f} $")
        if booked < (usd - idle) * 0.99 - 0.01:
            under.append(f"{team}: booked {booked:.2f} $, billed {usd - idle:.2f} $ for ended gaps")
    figures["idle cost booked beyond what was billed"] = (len(over), over)
    figures["idle cost of ended gaps left unbooked"] = (len(under), under)

    # Every idle period that ended (its pool reused or gone) is in its shape's history, once: what the
    # adaptive strategy learns from, whatever happened to the events.
    ended: defaultdict[str, set[str]] = defaultdict(set)
    for job in emulator.jobs.values():
        if job.warm_pool is not None and job.warm_pool.status in ("Reused", "Terminated"):
            ended[job.match_key.digest()].add(job.name)
    unlearned, twice, mismeasured = [], [], []
    for digest, names in ended.items():
        history = system.registry.history(digest, None)[0]
        recorded = Counter(g.job_name for g in history)
        twice += [str(name) for name, n in recorded.items() if n > 1]
        if len(names) <= HISTORY_LIMIT:
            unlearned += sorted(names - set(recorded))
        for gap in history:
            truth = emulator.job(str(gap.job_name)).warm_pool
            assert truth is not None
            if gap.reused and truth.status == "Terminated":
                continue  # uncensored by a later cold start: how long it would have waited
            if gap.reused != (truth.status == "Reused") or abs(gap.seconds - truth.billable_seconds) > TICK:
                mismeasured.append(
                    f"{gap.job_name}: {gap.seconds:.0f} s reused={gap.reused}, "
                    f"billed {truth.billable_seconds:.0f} s {truth.status}"
                )
    figures["idle periods missing from the history"] = (len(unlearned), unlearned)
    figures["idle periods in the history twice"] = (len(twice), twice)
    figures["idle periods recorded unlike their bill"] = (len(mismeasured), mismeasured)
    return figures
