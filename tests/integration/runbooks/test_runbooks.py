"""The alarms' runbooks (docs/deploy.md, "Alarms" and "Runbooks"), followed step by step as the on-call
engineer would: each test brings about what raises its alarm, does what the runbook says, and checks
what the runbook tells the engineer to check (a pool in SageMaker and in `warmpool pools show`, a message
received once, a metric in the functions' EMF output), and that nothing was lost or done twice."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, notifier, reconciler
from warmpool.local.pumps import LocalLambdaContext
from warmpool.local.slack_standin import SlackStandIn

from tests.integration.conftest import System, emf_documents, hooked, no_backoff
from tests.integration.lifecycle.test_resilience import finished_job

ROOT = Path(__file__).resolve().parents[3]

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}
TAGS = {"team": "vision", "owner": "alice"}


def emf_counts(output: str) -> dict[str, float]:
    """The metrics the functions published in `output` (their EMF lines), summed by name."""
    counts: dict[str, float] = {}
    for document in emf_documents(output):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                counts[metric["Name"]] = counts.get(metric["Name"], 0) + total
    return counts


def queue_arn(system: System, url: str) -> str:
    attributes = system.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def depth(system: System, url: str) -> int:
    attributes = system.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def look_at(system: System, dlq_url: str) -> list[dict[str, Any]]:
    """The runbook's first step: `aws sqs receive-message --queue-url DLQ_URL --max-number-of-messages 10
    --message-attribute-names All --visibility-timeout 120`, repeated until it answers no message (each
    is hidden for those two minutes, so every message is seen once)."""
    seen: list[dict[str, Any]] = []
    while True:
        batch = system.sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=120
        ).get("Messages", [])
        if not batch:
            return seen
        seen.extend(batch)


def two_minutes_pass(system: System, dlq_url: str, kept: list[dict[str, Any]]) -> None:
    """The visibility timeout of `look_at` runs out: the messages left in the DLQ are visible again.
    (moto's SQS keeps time by the machine's clock, not the emulator's: the timeout is ended by hand.)"""
    for message in kept:
        system.sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def start_message_move_task(system: System, source_arn: str, destination_arn: str) -> int:
    """`aws sqs start-message-move-task --source-arn DLQ_ARN --destination-arn QUEUE_ARN`, as SQS carries
    it out: every visible message of the DLQ is sent to the destination as a new message (a new message
    id, a receive count of 0, its body and message attributes as they were) and deleted from the DLQ.
    moto (5.x) does not implement StartMessageMoveTask: this is the task done by hand. Returns the
    number of messages moved (`list-message-move-tasks`' ApproximateNumberOfMessagesMoved)."""
    source = system.sqs.get_queue_url(QueueName=source_arn.rsplit(":", 1)[-1])["QueueUrl"]
    destination = system.sqs.get_queue_url(QueueName=destination_arn.rsplit(":", 1)[-1])["QueueUrl"]
    moved = system.messages(source)  # every visible message, received and deleted
    for message in moved:
        attributes = {
            name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue")}
            for name, attribute in message.get("MessageAttributes", {}).items()
        }
        system.sqs.send_message(
            QueueUrl=destination, MessageBody=message["Body"], MessageAttributes=attributes
        )
    return len(moved)


def shown(job: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`warmpool pools show JOB --format json`."""
    capsys.readouterr()
    assert main(["pools", "show", job, "--format", "json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_lifecycle_dlq_fix_then_redrive_what_failed_not_what_was_rejected(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """LifecycleDlqDepth: the engine's role could not describe training jobs for ten minutes (an SCP
    changed, say): two jobs' Completed events failed their 5 receives. An event the function rejected
    as malformed waits beside them, with its `reason`."""
    system.set_policy(TWO_HOURS)
    for name, keep_alive in (("kept-1", 900), ("gone-1", 60)):
        system.sagemaker.create_training_job(
            **training_job_request(name, keep_alive_seconds=keep_alive, tags=TAGS)
        )
    system.settle()  # both recorded InUse
    system.control.inject_faults("DescribeTrainingJob", "AccessDeniedException", probability=1.0)
    for name in ("kept-1", "gone-1"):
        system.control.run_for(name, 300)
    broken = {
        "version": "0",
        "id": "7c65c1e5-82e2-e662-f728-b4fa42485e3a",
        "account": "123456789012",
        "time": "2026-03-02T09:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Training Job State Change",
        "detail": {"TrainingJobName": "odd-1", "TrainingJobStatus": "Exploded"},
    }
    system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=json.dumps(broken))
    system.advance(600)  # both ended at 5 minutes; gone-1's own minute of keep-alive is over
    assert system.lifecycle.stats.failures == 10  # two events, 5 receives each
    assert depth(system, system.env.lifecycle_dlq_url) == 3  # the alarm
    assert "ReadNotPermittedError" in capsys.readouterr().out  # the log names the cause

    # 1. Look at the messages: the ones with a `reason` were rejected, the others failed their receives.
    seen = look_at(system, system.env.lifecycle_dlq_url)
    rejected = [m for m in seen if "reason" in m.get("MessageAttributes", {})]
    failed = [m for m in seen if m not in rejected]
    assert [m["MessageAttributes"]["field"]["StringValue"] for m in rejected] == ["detail.TrainingJobStatus"]
    assert sorted(json.loads(m["Body"])["detail"]["TrainingJobName"] for m in failed) == ["gone-1", "kept-1"]
    # 2. A rejected message is kept elsewhere (an issue) and deleted: redriven, it is rejected again.
    for message in rejected:
        system.sqs.delete_message(
            QueueUrl=system.env.lifecycle_dlq_url, ReceiptHandle=message["ReceiptHandle"]
        )
    # 3. Fix the cause the log names: the role may describe training jobs again.
    system.control.clear_faults()
    # 4. Redrive, once the two minutes of step 1 are over.
    two_minutes_pass(system, system.env.lifecycle_dlq_url, failed)
    capsys.readouterr()
    dlq_arn = queue_arn(system, system.env.lifecycle_dlq_url)
    assert start_message_move_task(system, dlq_arn, system.env.lifecycle_queue_arn) == 2
    system.settle()

    # 5. Check: the DLQ is empty, the pools are decided as they would have been on time.
    assert depth(system, system.env.lifecycle_dlq_url) == 0
    metrics = emf_counts(capsys.readouterr().out)
    assert "EventsRejected" not in metrics
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("kept-1", 3600)]
    kept = shown("kept-1", capsys)
    assert (kept["state"], kept["last_decision"]) == ("Available", "extend (defaults.keep_alive_strategy)")
    described = system.sagemaker.describe_training_job(TrainingJobName="kept-1")
    assert described["WarmPoolStatus"]["Status"] == "Available"
    assert described["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 3600
    gone = shown("gone-1", capsys)  # too late: its pool ended meanwhile, recorded as it is
    assert (gone["state"], gone["last_decision"]) == ("Terminated", None)
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # kept-1's, once

    # A second redrive of the same events (the move task run twice, say) changes nothing.
    for job in ("kept-1", "gone-1"):
        (body,) = [m["Body"] for m in failed if json.loads(m["Body"])["detail"]["TrainingJobName"] == job]
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)
    system.settle()
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("kept-1", 3600)]
    assert system.notifications() == []
    assert depth(system, system.env.lifecycle_dlq_url) == 0
    assert shown("kept-1", capsys)["audit"] == kept["audit"]


def days_pass(system: System, days: float) -> None:
    """What the notifier's dedupe (Powertools idempotency, on the machine's clock) sees `days` later:
    every record in the idempotency table that long nearer its expiry."""
    dynamodb = boto3.client("dynamodb")
    table = system.env.idempotency_table
    for item in dynamodb.scan(TableName=table)["Items"]:
        expiration = int(item["expiration"]["N"]) - int(days * 86400)
        dynamodb.update_item(
            TableName=table,
            Key={"id": item["id"]},
            UpdateExpression="SET expiration = :e",
            ExpressionAttributeValues={":e": {"N": str(expiration)}},
        )


NOTIFY_POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"keep_alive_strategy": "fixed-1800"},
    "notifications": {"teams": {"vision": {"slack_webhook_key": "vision"}}},
}


@pytest.fixture
def stand_in() -> Iterator[SlackStandIn]:
    slack = SlackStandIn().start()
    yield slack
    slack.stop()


def test_notify_dlq_fixed_after_a_weekend_then_redriven_sends_each_copy_once(
    system: System, stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """NotifyDlqDepth: on a Friday the Slack webhooks secret was pasted as YAML: a "pool ready" notice's
    SNS copy went out, its Slack copy failed 5 receives and waits in the notify DLQ. It is fixed on
    Monday, three days on, and redriven."""
    secrets = boto3.client("secretsmanager")
    arn = system.env.slack_webhooks_secret_arn
    secrets.put_secret_value(SecretId=arn, SecretString=f"vision: {stand_in.url('vision')}")
    system.set_policy(NOTIFY_POLICY)
    system.run_job("fri-1", 300, keep_alive_seconds=600, tags=TAGS)
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # SNS carried it
    assert depth(system, system.env.notify_dlq_url) == 1  # the alarm
    (logged, *_) = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert "is not JSON" in str(logged.exc_info[1] if logged.exc_info else "")  # the log says what to fix

    # 1. Look: no `reason` attribute; the notifier's log has the error.
    seen = look_at(system, system.env.notify_dlq_url)
    assert [m.get("MessageAttributes", {}).get("reason") for m in seen] == [None]
    # 2. Fix the cause, then wait a minute: the functions read the secret again within one.
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"vision": stand_in.url("vision")}))
    system.advance(60)
    days_pass(system, 3)  # Monday
    # 3. Redrive.
    two_minutes_pass(system, system.env.notify_dlq_url, seen)
    notify_queue_arn = queue_arn(system, system.env.notify_queue_url)
    assert (
        start_message_move_task(system, queue_arn(system, system.env.notify_dlq_url), notify_queue_arn) == 1
    )
    system.settle()

    # 4. Check: the DLQ is empty, Slack got the notice once, SNS did not get it again.
    assert depth(system, system.env.notify_dlq_url) == 0
    (delivered,) = stand_in.delivered("vision")
    assert delivered["body"]["text"].startswith("Warm pool ready: fri-1 ")  # late, its times as they were
    assert system.notifications() == []
    # A second redrive of the same message (the move task run twice) sends nothing.
    system.sqs.send_message(QueueUrl=system.env.notify_queue_url, MessageBody=seen[0]["Body"])
    system.settle()
    assert len(stand_in.delivered("vision")) == 1
    assert system.notifications() == []


def test_policy_invalid_validate_the_deployed_document_then_put_it_back_fixed(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """PolicyInvalid: someone put the policy parameter by hand, with a typo. A function that had read
    the good document keeps deciding by it; one started since (it has read none) decides by the
    parameter's last valid version. Fixed and put back, the next look decides by the new document."""
    system.set_policy(TWO_HOURS)
    system.run_job("before-1", 300, keep_alive_seconds=900, tags=TAGS)
    typo = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800", "overides": {}}}
    system.set_policy(typo)
    capsys.readouterr()
    system.run_job("during-1", 300, keep_alive_seconds=900, tags=TAGS, instance_type="ml.g5.4xlarge")
    assert emf_counts(capsys.readouterr().out).get("PolicyInvalid", 0) >= 1  # the alarm
    logged = [r.getMessage() for r in caplog.records if "is invalid" in r.getMessage()]
    assert "keeping the last good document" in logged[0]
    lifecycle.runtime.cache_clear()  # a new instance of the function: it has read no good document
    caplog.clear()
    system.run_job("during-2", 300, keep_alive_seconds=900, tags=TAGS, instance_type="ml.g5.8xlarge")
    logged = [r.getMessage() for r in caplog.records if "is invalid" in r.getMessage()]
    assert any("deciding with version 2, its last valid one" in line for line in logged)
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [
        ("before-1", 3600),
        ("during-1", 3600),  # by the last good document, two hours in one-hour steps
        ("during-2", 3600),  # by the same, read from the parameter's history
    ]

    # 1. The deployed document, and its problems (aws ssm get-parameter --name "$POLICY_PARAMETER_NAME"
    #    --query Parameter.Value --output text > deployed.json)
    deployed = tmp_path / "deployed.json"
    parameter = system.ssm.get_parameter(Name=system.env.policy_parameter)["Parameter"]
    deployed.write_text(parameter["Value"])
    capsys.readouterr()
    assert main(["policy", "validate", str(deployed)]) == 1
    assert "defaults.overides" in capsys.readouterr().err
    # 2. Fixed, validated, put back (aws ssm put-parameter --name "$POLICY_PARAMETER_NAME" --type String
    #    --overwrite --value file://deployed.json)
    deployed.write_text(json.dumps({"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}}))
    assert main(["policy", "validate", str(deployed)]) == 0
    put = system.ssm.put_parameter(
        Name=system.env.policy_parameter, Value=deployed.read_text(), Type="String", Overwrite=True
    )
    # 3. Check: the next look at each pool decides by the new document; no more PolicyInvalid.
    capsys.readouterr()
    system.run_job("after-1", 300, keep_alive_seconds=900, tags=TAGS, instance_type="ml.p3.2xlarge")
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()][3:] == [("after-1", 1800)]
    assert "PolicyInvalid" not in emf_counts(capsys.readouterr().out)
    #    (warmpool pools show JOB: the policy_version of its latest decision entry is the version put)
    assert main(["pools", "show", "after-1", "--format", "json"]) == 0
    decided = [e for e in json.loads(capsys.readouterr().out)["audit"] if e["what"] == "decision"]
    assert decided[-1]["details"]["policy_version"] == put["Version"]
    # 4. No pool was left to the built-in policy (every version invalid): none keeps its own keep-alive.
    capsys.readouterr()
    assert main(["pools", "list", "--status", "Available", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["job"] for r in rows if "builtin" in str(r["last_decision"])] == []


def policy_file_as_json(policy_yaml: Path, deployed: Path) -> None:
    """The runbook's `python3 -c '...' < policy.yaml > deployed.json` (docs/deploy.md, PolicyInvalid step
    2), run as written there."""
    written = (ROOT / "docs" / "deploy.md").read_text()
    (script,) = re.findall(r"`python3 -c '([^']+)' < policy\.yaml >", written)
    with policy_yaml.open() as stdin, deployed.open("w") as stdout:
        subprocess.run([sys.executable, "-c", script], stdin=stdin, stdout=stdout, check=True)


def test_policy_unreadable_put_the_deleted_parameter_back_then_redrive_what_failed(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """PolicyUnreadable: someone tidying Parameter Store deleted the policy parameter. The functions that
    had read it keep deciding by the last good document; those started since (they have read none) fail
    their events, messages and runs: the lifecycle and notify DLQs fill, the reconciler's run fails. The
    parameter is put back from the stack's policy file, and each DLQ redriven."""
    system.set_policy(TWO_HOURS)
    system.run_job("before-1", 300, keep_alive_seconds=900, tags=TAGS)
    assert [n["job_name"] for n in system.notifications()] == ["before-1"]
    system.ssm.delete_parameter(Name=system.env.policy_parameter)
    notifier.runtime.cache_clear()  # a new instance of the notifier: it has read no document
    capsys.readouterr()
    caplog.clear()
    system.run_job("during-1", 300, keep_alive_seconds=900, tags=TAGS, instance_type="ml.g5.4xlarge")
    assert emf_counts(capsys.readouterr().out).get("PolicyUnreadable", 0) >= 1  # the alarm
    # The warm lifecycle function decided by the last good document; its log names the error.
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [
        ("before-1", 3600),
        ("during-1", 3600),
    ]
    logged = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert "keeping the last good document: An error occurred (ParameterNotFound)" in logged[0]
    # The new notifier failed during-1's notice (no SNS copy: routing it needs the policy).
    assert system.notifications() == []
    assert depth(system, system.env.notify_dlq_url) == 1  # NotifyDlqDepth
    lifecycle.runtime.cache_clear()  # new instances of the engine's functions
    reconciler.runtime.cache_clear()
    caplog.clear()
    system.run_job("during-2", 300, keep_alive_seconds=900, tags=TAGS, instance_type="ml.g5.8xlarge")
    assert depth(system, system.env.lifecycle_dlq_url) == 2  # LifecycleDlqDepth: its two events
    failures = [r.exc_info[1] for r in caplog.records if r.exc_info and r.exc_info[1] is not None]
    assert {"ParameterNotFound" in str(error) for error in failures} == {True}  # the log says why
    with pytest.raises(ClientError, match="ParameterNotFound"):
        system.reconcile()  # ReconcilerErrors

    # Put the parameter back as in PolicyInvalid, step 2: it is gone (`get-parameter` answers
    # ParameterNotFound), so from the stack's policy file, as JSON; validate it; put it.
    with pytest.raises(ClientError, match="ParameterNotFound"):
        system.ssm.get_parameter(Name=system.env.policy_parameter)
    policy_yaml = tmp_path / "policy.yaml"
    # as the stack's policy files have them: a holiday is a YAML date, which json.dumps alone refused
    policy_yaml.write_text(
        "version: 1\ndefaults:\n  keep_alive_strategy: fixed-7200\n"
        "  working_hours:\n    timezone: UTC\n    start: '00:00'\n    end: '24:00'\n"
        "    days: [mon, tue, wed, thu, fri, sat, sun]\n    holidays: [2026-12-25]\n"
    )
    deployed = tmp_path / "deployed.json"
    policy_file_as_json(policy_yaml, deployed)
    assert main(["policy", "validate", str(deployed)]) == 0
    system.ssm.put_parameter(
        Name=system.env.policy_parameter, Value=deployed.read_text(), Type="String", Overwrite=True
    )
    # Then redrive each DLQ whose alarm fired, as their runbooks say: look (no `reason`), redrive, check.
    for dlq_url, queue_url in (
        (system.env.lifecycle_dlq_url, system.env.lifecycle_queue_url),
        (system.env.notify_dlq_url, system.env.notify_queue_url),
    ):
        seen = look_at(system, dlq_url)
        assert [m for m in seen if "reason" in m.get("MessageAttributes", {})] == []
        two_minutes_pass(system, dlq_url, seen)
        moved = start_message_move_task(system, queue_arn(system, dlq_url), queue_arn(system, queue_url))
        assert moved == len(seen)
        system.settle()
        assert depth(system, dlq_url) == 0
    pool = shown("during-2", capsys)
    assert (pool["state"], pool["last_decision"]) == ("Available", "extend (defaults.keep_alive_strategy)")
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()][2:] == [("during-2", 3600)]
    assert sorted(n["job_name"] for n in system.notifications()) == ["during-1", "during-2"]  # once each
    assert system.reconcile()["failed"] == []  # the next reconciler run
    # Check: the alarm's metric stops (each function reads the parameter again within a minute).
    system.advance(60)
    capsys.readouterr()
    system.run_job("after-1", 300, keep_alive_seconds=900, tags=TAGS, instance_type="ml.p3.2xlarge")
    assert "PolicyUnreadable" not in emf_counts(capsys.readouterr().out)
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()][3:] == [("after-1", 3600)]


def test_reconciler_failures_name_the_permission_and_the_run_after_the_grant_repairs(
    system: System, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """ReconcilerFailures: a job's events were lost while the engine's role could not describe training
    jobs; the reconciler, which would have found its pool, could not read it either."""
    system.set_policy(TWO_HOURS)
    finished_job(system, "lost-1", keep_alive=1800)  # its events, lost
    system.control.inject_faults("DescribeTrainingJob", "AccessDeniedException", probability=1.0)
    capsys.readouterr()
    report = system.reconcile()
    assert emf_counts(capsys.readouterr().out).get("ReconcilerFailures") == 1  # the alarm

    # 1. Its log: `failed` names each pool, and the permission the role lacks.
    (logged,) = [
        r for r in caplog.records if r.getMessage() == "reconciled, some pools could not be repaired"
    ]
    assert logged.__dict__["failed"] == report["failed"]
    (failure,) = report["failed"]
    assert failure.startswith("lost-1: ReadNotPermittedError: DescribeTrainingJob(lost-1) refused")
    assert "grant the engine's role sagemaker:DescribeTrainingJob on training-job/*" in failure
    # 2. Grant it; 3. the next run repairs, and counts no failure.
    system.control.clear_faults()
    report = system.reconcile()
    assert (report["repaired"], report["failed"]) == (["lost-1"], [])
    assert "ReconcilerFailures" not in emf_counts(capsys.readouterr().out)
    pool = shown("lost-1", capsys)
    assert (pool["state"], pool["last_decision"]) == ("Available", "extend (defaults.keep_alive_strategy)")
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("lost-1", 3600)]


def test_events_retried_pages_during_a_throttle_and_the_events_drain_once_it_ends(
    system: System, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """EventsRetried: SageMaker throttles DescribeTrainingJob past the retries; every event fails and
    goes back to the queue, minutes before any reaches the DLQ."""
    no_backoff(monkeypatch)  # botocore's back-offs and its rate limiter's waits
    system.set_policy(TWO_HOURS)
    names = [f"thr-{i:02}" for i in range(6)]
    for name in names:
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=TAGS))
        system.control.run_for(name, 300)
    system.emulator.advance(300)
    assert depth(system, system.env.lifecycle_queue_url) == 12  # each job's InProgress and Completed
    system.control.inject_faults("DescribeTrainingJob", "ThrottlingException", count=10_000)
    capsys.readouterr()

    # The alarm: ten or more events failed in the batch, none in the DLQ yet.
    assert system.lifecycle.pump_once() == 10
    output = capsys.readouterr().out
    assert emf_counts(output).get("EventsRetried", 0) == 10
    assert depth(system, system.env.lifecycle_dlq_url) == 0
    # 1. The log names the error.
    assert "record failed; SQS will retry it" in output
    assert "ThrottlingException" in output
    # 2. The outage ends; 3. the events drain, each pool kept once, nothing in the DLQ.
    system.control.clear_faults()
    system.settle()
    updates = sorted((u["job"], u["seconds"]) for u in system.control.update_calls())
    assert updates == [(name, 3600) for name in names]
    assert depth(system, system.env.lifecycle_queue_url) == 0
    assert depth(system, system.env.lifecycle_dlq_url) == 0


def test_an_event_another_invocation_is_processing_goes_back_to_the_queue_uncounted(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """EventsRetried counted the copy of an event (EventBridge delivers at least once) that reached a
    second invocation while the first was processing it: nothing had failed, the copy's retry finds the
    event done, yet ten such copies paged the on-call, as the notifier's NotificationsRetried does not."""
    system.set_policy(TWO_HOURS)
    system.sagemaker.create_training_job(**training_job_request("dup-1", keep_alive_seconds=600, tags=TAGS))
    system.settle()
    system.control.complete_job("dup-1")
    (message,) = system.sqs.receive_message(
        QueueUrl=system.env.lifecycle_queue_url, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    system.sqs.change_message_visibility(
        QueueUrl=system.env.lifecycle_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    copy = {"Records": [{**system.lifecycle._record(message), "messageId": "the-copy"}]}
    answers: list[dict[str, Any]] = []

    def second_invocation(**_: Any) -> None:
        # the copy reaches another invocation while the first describes the job
        if not answers:
            answers.append(lifecycle.handler(copy, LocalLambdaContext()))

    capsys.readouterr()
    with hooked("before-call.sagemaker.DescribeTrainingJob", second_invocation):
        lifecycle.runtime.cache_clear()  # its clients made anew, with the hook
        assert system.lifecycle.pump_once() == 1
    assert answers == [{"batchItemFailures": [{"itemIdentifier": "the-copy"}]}]  # back to the queue
    output = capsys.readouterr().out
    assert "IdempotencyAlreadyInProgressError" in output  # the log says why
    assert "EventsRetried" not in emf_counts(output)
    # the copy's retry finds the event done: the pool kept once
    assert lifecycle.handler(copy, LocalLambdaContext()) == {"batchItemFailures": []}
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("dup-1", 3600)]
    assert "EventsRetried" not in emf_counts(capsys.readouterr().out)


def test_an_event_not_started_for_want_of_time_is_deferred_not_retried(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """EventsRetried counted the records of a batch that an invocation out of time did not start (they go
    back to the queue untouched): ten of them paged the on-call though nothing had failed. They are
    counted apart (EventsDeferred, which no alarm reads), logged as not started, and their next delivery
    carries them out."""
    system.set_policy(TWO_HOURS)
    names = [f"late-{i:02}" for i in range(5)]
    for name in names:
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=TAGS))
        system.control.run_for(name, 300)
    system.emulator.advance(300)
    messages = system.sqs.receive_message(
        QueueUrl=system.env.lifecycle_queue_url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )["Messages"]
    assert len(messages) == 10  # each job's InProgress and Completed
    batch = {"Records": [system.lifecycle._record(m) for m in messages]}
    capsys.readouterr()

    # an invocation with 12 s left, 7 s before its end margin: no record may start
    answer = lifecycle.handler(batch, LocalLambdaContext(remaining_millis=12_000))

    assert len(answer["batchItemFailures"]) == 10  # all back to the queue
    output = capsys.readouterr().out
    counts = emf_counts(output)
    assert (counts.get("EventsDeferred"), counts.get("EventsRetried")) == (10, None)
    assert "record not started: the invocation is out of time; SQS delivers it again" in output
    assert "record failed" not in output
    assert system.control.update_calls() == []
    for message in messages:  # visible again, as SQS makes them once their visibility ends
        system.sqs.change_message_visibility(
            QueueUrl=system.env.lifecycle_queue_url,
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    system.settle()
    assert sorted((u["job"], u["seconds"]) for u in system.control.update_calls()) == [
        (name, 3600) for name in names
    ]
    assert "EventsRetried" not in emf_counts(capsys.readouterr().out)


def test_reconciler_errors_a_run_that_could_read_nothing_fails_whole_and_the_next_repairs(
    system: System, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ReconcilerErrors: DynamoDB refuses every Query (an outage) while a job's events are lost; the run
    can read no pool, watch or notice it reconciles."""
    no_backoff(monkeypatch)  # botocore's back-offs and its rate limiter's waits
    system.set_policy(TWO_HOURS)
    finished_job(system, "lost-2", keep_alive=1800)  # its events, lost

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Query")

    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("before-parameter-build.dynamodb.Query", refuse)
    reconciler.runtime.cache_clear()  # a new instance, its clients made during the outage
    # 1. The run fails whole (the function's Errors metric): its error names what each phase met.
    with pytest.raises(RuntimeError, match=r"^the reconciler could do nothing: .*\(InternalServerError\)"):
        system.reconcile()
    # 2. The outage ends; 3. the next run repairs what was missed, and the pool is listed warm.
    session.events.unregister("before-parameter-build.dynamodb.Query", refuse)
    reconciler.runtime.cache_clear()
    assert system.reconcile()["repaired"] == ["lost-2"]
    capsys.readouterr()
    assert main(["pools", "list", "--status", "Available", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["job"], r["state"]) for r in rows] == [("lost-2", "Available")]
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("lost-2", 3600)]


def test_reconciler_failures_sagemaker_throttling_its_listings_names_the_phase_and_the_run_goes_on(
    system: System, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ReconcilerFailures, in an AWS incident: SageMaker throttles ListTrainingJobs past the retries while
    a job's events are lost; the run goes on with what the registry knows."""
    no_backoff(monkeypatch)  # botocore's back-offs and its rate limiter's waits
    system.set_policy(TWO_HOURS)
    finished_job(system, "lost-3", keep_alive=1800)  # its events, lost
    system.control.inject_faults("ListTrainingJobs", "ThrottlingException", count=10_000)
    # 1. Its log names each phase that failed, with the throttle.
    report = system.reconcile()
    (logged,) = [
        r for r in caplog.records if r.getMessage() == "reconciled, some pools could not be repaired"
    ]
    assert logged.__dict__["phases_failed"] == ["sagemaker-available", "sagemaker-in-use"]
    assert all("ThrottlingException" in f for f in report["failed"])
    # 2. The incident ends; 3. the next run finds the pool and names no phase.
    system.control.clear_faults()
    report = system.reconcile()
    assert (report["repaired"], report["phases_failed"]) == (["lost-3"], [])


def test_permanent_errors_the_audit_says_why_and_the_next_look_after_the_grant_extends(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """PermanentErrors: the engine's role may not update a job (an SCP, a permissions boundary, a tag
    condition): SageMaker refused its keep-alive update, which is not retried."""
    system.set_policy(TWO_HOURS)
    system.control.inject_faults("UpdateTrainingJob", "AccessDeniedException", probability=1.0)
    capsys.readouterr()
    system.run_job("denied-1", 300, keep_alive_seconds=1800, tags=TAGS)
    assert emf_counts(capsys.readouterr().out).get("PermanentErrors") == 1  # the alarm

    # 1. The pool's audit trail says what was refused, and why.
    pool = shown("denied-1", capsys)
    (error,) = [a for a in pool["audit"] if a["what"] == "error"]
    assert error["details"]["operation"] == "UpdateTrainingJob"
    assert "AccessDeniedException" in error["details"]["reason"]
    assert pool["state"] == "Available"  # on its own keep-alive, 30 minutes
    # 2. Grant it; 3. the pool's next look, 15 minutes before its own keep-alive ends, extends it.
    system.control.clear_faults()
    system.advance(1800 + 120)
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("denied-1", 3600)]
    assert shown("denied-1", capsys)["state"] == "Available"


def test_slack_delivery_failed_the_log_names_the_webhook_to_replace_and_the_next_message_gets_there(
    system: System,
    stand_in: SlackStandIn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SlackDeliveryFailed: the vision team's channel was archived, and Slack refuses its webhook for good
    (410). The notice's SNS copy went out; its Slack copy is not tried again."""
    secrets = boto3.client("secretsmanager")
    arn = system.env.slack_webhooks_secret_arn
    webhooks = {"vision": stand_in.url("vision-old"), "platform": stand_in.url("platform")}
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(webhooks))
    system.set_policy(NOTIFY_POLICY)
    stand_in.answers.append(410)
    capsys.readouterr()
    system.run_job("archived-1", 300, keep_alive_seconds=600, tags=TAGS)
    assert emf_counts(capsys.readouterr().out).get("SlackDeliveryFailed") == 1  # the alarm
    assert [n["job_name"] for n in system.notifications()] == ["archived-1"]  # SNS carried it
    assert depth(system, system.env.notify_dlq_url) == 0  # nothing to redrive

    # 1. The notifier's log: the key of the webhook Slack refused, and Slack's status.
    (refused,) = [
        r for r in caplog.records if r.getMessage() == "Slack refused the message; the SNS copy stands"
    ]
    assert (refused.__dict__["webhook_key"], refused.__dict__["status"]) == ("vision", 410)
    # 2. A new webhook for the channel, put under that key, the others kept: aws secretsmanager
    #    get-secret-value --secret-id "$SLACK_WEBHOOKS_SECRET_ARN" --query SecretString --output text >
    #    webhooks.json; the new URL for the key; put-secret-value --secret-string file://webhooks.json
    saved = tmp_path / "webhooks.json"
    saved.write_text(secrets.get_secret_value(SecretId=arn)["SecretString"])
    edited = json.loads(saved.read_text())
    edited[refused.__dict__["webhook_key"]] = stand_in.url("vision-new")
    saved.write_text(json.dumps(edited))
    secrets.put_secret_value(SecretId=arn, SecretString=saved.read_text())
    kept = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert kept == {"vision": stand_in.url("vision-new"), "platform": stand_in.url("platform")}
    # 3. Check: a minute on, the next message reaches the channel; the refused one is not sent again.
    system.advance(60)
    capsys.readouterr()
    system.run_job("after-1", 300, keep_alive_seconds=600, tags=TAGS)
    (delivered,) = stand_in.delivered("vision-new")
    assert delivered["body"]["text"].startswith("Warm pool ready: after-1 ")
    assert [r["status"] for r in stand_in.received if r["path"] == "/vision-old"] == [410]
    assert "SlackDeliveryFailed" not in emf_counts(capsys.readouterr().out)
    assert [n["job_name"] for n in system.notifications()] == ["after-1"]
