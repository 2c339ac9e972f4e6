"""The synthesized template: wiring, encryption, least privilege, cdk-nag and cfn-lint."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from warmpool.adapters.registry import MATCH_INDEX, STATUS_INDEX, TEAM_INDEX, TYPE_INDEX
from warmpool.settings import (
    LifecycleSettings,
    NotifierSettings,
    ReconcilerSettings,
    SlackInteractiveSettings,
    SlackPressSettings,
    _EnvSettings,
)

from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.slow


def statements(synth: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            out.append((name, statement))
    return out


def _listed(statement: dict[str, Any], key: str) -> list[Any]:
    value = statement[key]
    return value if isinstance(value, list) else [value]


def actions(statement: dict[str, Any]) -> list[str]:
    return _listed(statement, "Action")


def resources(statement: dict[str, Any]) -> list[Any]:
    return _listed(statement, "Resource")


def test_rules_filter_on_source_and_detail_type_only_and_feed_the_queue(synthesized: Synthesized) -> None:
    rules = [
        r for r in synthesized.resources("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]
    ]
    patterns = sorted(r["Properties"]["EventPattern"]["detail-type"][0] for r in rules)
    assert patterns == [
        "AWS API Call via CloudTrail",
        "SageMaker HyperParameter Tuning Job State Change",
        "SageMaker Training Job State Change",
    ]
    for rule in rules:
        if rule["Properties"]["EventPattern"]["detail-type"] != ["AWS API Call via CloudTrail"]:
            assert set(rule["Properties"]["EventPattern"]) == {"source", "detail-type"}
        assert rule["Properties"]["EventPattern"]["source"] == ["aws.sagemaker"]
        (target,) = rule["Properties"]["Targets"]
        assert "LifecycleQueue" in target["Arn"]["Fn::GetAtt"][0]
        # what EventBridge cannot deliver is kept, not dropped
        assert "LifecycleQueueDlq" in target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    schedules = [
        r
        for r in synthesized.resources("AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert [s["Properties"]["ScheduleExpression"] for s in schedules] == ["rate(5 minutes)"]


def test_queues_are_encrypted_tls_only_and_redrive_to_dlqs(synthesized: Synthesized) -> None:
    queues = synthesized.resources("AWS::SQS::Queue")
    assert len(queues) == 6  # lifecycle, notify and the Slack presses, each with its DLQ
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    redriven = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert len(redriven) == 3
    assert all(q["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5 for q in redriven)
    policies = synthesized.resources("AWS::SQS::QueuePolicy").values()
    denies = [
        s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert len(denies) >= 6
    assert all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    mappings = synthesized.resources("AWS::Lambda::EventSourceMapping").values()
    # one mapping per queue-fed function (logical ids end in CDK's 8-character hash)
    wired = sorted(
        (m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0][:-8], m["Properties"]["FunctionName"]["Ref"][:-8])
        for m in mappings
    )
    assert wired == [
        ("WarmPoolNotificationsSlackPressQueue", "WarmPoolFunctionsSlackPresses"),
        ("WarmPoolStorageLifecycleQueue", "WarmPoolFunctionsLifecycle"),
        ("WarmPoolStorageNotifyQueue", "WarmPoolFunctionsNotifier"),
    ]
    assert all(m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)


def test_the_dlq_runbooks_queues_are_stack_outputs_named_by_their_variables(synthesized: Synthesized) -> None:
    """docs/deploy.md's runbooks look at a DLQ by its URL and redrive it by its ARN to its queue's."""
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    queues = synthesized.resources("AWS::SQS::Queue")
    for label in ("Lifecycle", "Notify"):
        upper = label.upper()
        (queue,) = [k for k in queues if k.startswith(f"WarmPoolStorage{label}Queue") and "Dlq" not in k]
        (dlq,) = [k for k in queues if k.startswith(f"WarmPoolStorage{label}QueueDlq")]
        assert outputs[f"{upper}_QUEUE_ARN"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert outputs[f"{upper}_DLQ_ARN"] == {"Fn::GetAtt": [dlq, "Arn"]}
        assert outputs[f"{upper}_DLQ_URL"] == {"Ref": dlq}
        assert queues[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [dlq, "Arn"]
        }


def test_the_webhooks_secret_the_slack_runbook_fixes_is_a_stack_output_named_by_its_variable(
    synthesized: Synthesized,
) -> None:
    """docs/deploy.md's SlackDeliveryFailed runbook puts a channel's new webhook into the secret the notifier
    reads, by `$SLACK_WEBHOOKS_SECRET_ARN`, which docs/cli.md's one line exports from the outputs."""
    (notifier,) = [
        fn
        for logical_id, fn in synthesized.resources("AWS::Lambda::Function").items()
        if "FunctionsNotifier" in logical_id
    ]
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    environment = notifier["Properties"]["Environment"]["Variables"]
    assert outputs["SLACK_WEBHOOKS_SECRET_ARN"] == environment["SLACK_WEBHOOKS_SECRET_ARN"]


def test_the_signing_secret_filled_after_deploying_is_a_stack_output_named_by_its_variable(
    synthesized: Synthesized,
) -> None:
    """docs/deploy.md has the Slack app's signing secret put after deploying, and again after a leak, by
    `$SLACK_SIGNING_SECRET_ARN`: the secret the Slack function checks presses with."""
    (slack,) = [
        fn
        for logical_id, fn in synthesized.resources("AWS::Lambda::Function").items()
        if "SlackInteractive" in logical_id
    ]
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    environment = slack["Properties"]["Environment"]["Variables"]
    assert outputs["SLACK_SIGNING_SECRET_ARN"] == environment["SLACK_SIGNING_SECRET_ARN"]


def test_the_notifier_remembers_a_copy_sent_for_longer_than_a_dlq_keeps_its_message(
    synthesized: Synthesized,
) -> None:
    """A message redriven from the notify DLQ, however late, sends only the copies that failed."""
    from warmpool.handlers.notifier import SENT_REMEMBERED_SECONDS

    queues = synthesized.resources("AWS::SQS::Queue").values()
    kept = [
        q["Properties"]["MessageRetentionPeriod"]
        for q in queues
        if "MessageRetentionPeriod" in q["Properties"]
    ]
    assert len(kept) == 3  # the three DLQs
    assert all(seconds < SENT_REMEMBERED_SECONDS for seconds in kept)


def test_only_this_accounts_rules_may_send_events_to_the_queues(synthesized: Synthesized) -> None:
    # events.amazonaws.com without a condition would let an EventBridge rule of any account send to the
    # lifecycle queue (the confused deputy): fake job events, decided as this account's own
    grants = [
        statement
        for policy in synthesized.resources("AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert len(grants) >= 3  # the lifecycle queue, and its DLQ for each rule
    for statement in grants:
        condition = statement.get("Condition", {})
        assert condition.get("StringEquals") == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}} or (
            "aws:SourceArn" in condition.get("ArnEquals", {})
        ), statement


def test_tables_have_recovery_ttl_and_the_registry_indexes(synthesized: Synthesized) -> None:
    tables = list(synthesized.resources("AWS::DynamoDB::GlobalTable").values())
    assert len(tables) == 3  # registry, audit, idempotency
    for table in tables:
        replica = table["Properties"]["Replicas"][0]
        assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["Properties"]["TimeToLiveSpecification"]["Enabled"] is True
    pools = next(t for t in tables if t["Properties"].get("GlobalSecondaryIndexes"))
    indexes = {
        index["IndexName"]: [key["AttributeName"] for key in index["KeySchema"]]
        for index in pools["Properties"]["GlobalSecondaryIndexes"]
    }
    # the names and keys the registry adapter queries
    assert indexes == {
        STATUS_INDEX: ["gsi1pk", "gsi1sk"],
        MATCH_INDEX: ["gsi2pk", "gsi2sk"],
        TEAM_INDEX: ["gsi3pk", "gsi3sk"],
        TYPE_INDEX: ["gsi4pk", "gsi4sk"],
    }
    assert pools["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "ttl"


def test_the_tables_and_the_secrets_are_under_warmpools_own_rotated_key(synthesized: Synthesized) -> None:
    # The registry, the audit trail, the idempotency records and the Slack secrets (the signing secret, the
    # webhook URLs, a bot token) were under AWS-owned or AWS managed keys, beyond the account's key policy,
    # CloudTrail and rotation: only the queues and the topics were under the stack's key.
    (key_id,) = synthesized.resources("AWS::KMS::Key")
    key = {"Fn::GetAtt": [key_id, "Arn"]}
    assert synthesized.template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    tables = synthesized.resources("AWS::DynamoDB::GlobalTable")
    assert len(tables) == 3
    for name, table in tables.items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}, name
        (replica,) = table["Properties"]["Replicas"]
        assert replica["SSESpecification"] == {"KMSMasterKeyId": key}, name
    secrets = synthesized.resources("AWS::SecretsManager::Secret")
    assert len(secrets) == 2  # the webhooks, the signing secret
    assert all(secret["Properties"]["KmsKeyId"] == key for secret in secrets.values())
    # what the people using the CLI and the auditors are granted kms:Decrypt on (docs/deploy.md)
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    assert outputs["KMS_KEY_ARN"] == key


def test_the_engine_may_query_the_registrys_indexes_by_name_only(synthesized: Synthesized) -> None:
    # `table/POOLS/index/*` let the engine's roles query any index a later change (or a hand) adds
    queried = [
        s for _, s in statements(synthesized) if "dynamodb:Query" in actions(s) and "Condition" not in s
    ]
    assert queried
    everywhere = {json.dumps(r) for s in queried for r in resources(s)}
    assert not [r for r in everywhere if "/index/*" in r]
    registry = [s for s in queried if s.get("Sid") == "RegistryQueries"]
    assert len(registry) == 3  # the engine's: lifecycle, reconciler, Slack presses
    for statement in registry:
        # the four the registry adapter queries (the reconciler's backfill reads by_status until done)
        indexes = {r["Fn::Join"][1][1] for r in resources(statement) if "Fn::Join" in r}
        assert indexes == {f"/index/{i}" for i in (STATUS_INDEX, MATCH_INDEX, TEAM_INDEX, TYPE_INDEX)}


def test_the_stack_names_the_indexes_the_registry_adapter_queries() -> None:
    from infra import constants

    names = (constants.STATUS_INDEX, constants.MATCH_INDEX, constants.TEAM_INDEX, constants.TYPE_INDEX)
    assert names == (STATUS_INDEX, MATCH_INDEX, TEAM_INDEX, TYPE_INDEX)


def audit_table(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    tables = synthesized.resources("AWS::DynamoDB::GlobalTable")
    (found,) = [(name, t) for name, t in tables.items() if "StorageAudit" in name]
    return found


def test_the_audit_trail_has_a_retained_table_of_its_own(synthesized: Synthesized) -> None:
    _, table = audit_table(synthesized)
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert "GlobalSecondaryIndexes" not in properties
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    replica = properties["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_engine_functions_name_and_may_write_the_audit_table(synthesized: Synthesized) -> None:
    name, _ = audit_table(synthesized)
    engine = {"Lifecycle", "Reconciler", "SlackPresses"}
    functions = synthesized.resources("AWS::Lambda::Function")
    named = {
        n
        for logical_id, fn in functions.items()
        for n in engine
        if f"Functions{n}" in logical_id
        and fn["Properties"]["Environment"]["Variables"].get("AUDIT_TABLE_NAME") == {"Ref": name}
    }
    assert named == engine
    writers = {
        n
        for policy, statement in statements(synthesized)
        for n in engine
        if f"Functions{n}" in policy
        and "dynamodb:PutItem" in actions(statement)
        and {"Fn::GetAtt": [name, "Arn"]} in resources(statement)
    }
    assert writers == engine
    # append and read only: no function may change or delete an entry
    on_the_trail = {
        action
        for policy, statement in statements(synthesized)
        if any(f"Functions{n}" in policy for n in engine)
        and statement["Effect"] == "Allow"
        and {"Fn::GetAtt": [name, "Arn"]} in resources(statement)
        for action in actions(statement)
    }
    assert on_the_trail == {"dynamodb:PutItem", "dynamodb:Query"}


def test_the_cli_settings_are_stack_outputs_named_by_their_variables(synthesized: Synthesized) -> None:
    (lifecycle,) = [
        fn
        for logical_id, fn in synthesized.resources("AWS::Lambda::Function").items()
        if "FunctionsLifecycle" in logical_id
    ]
    environment = lifecycle["Properties"]["Environment"]["Variables"]
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    for variable in ("POOLS_TABLE_NAME", "AUDIT_TABLE_NAME", "POLICY_PARAMETER_NAME", "SCHEDULER_ROLE_ARN"):
        assert outputs[variable] == environment[variable]


def test_the_notifications_topic_teams_subscribe_to_is_a_stack_output(synthesized: Synthesized) -> None:
    """docs/notifications.md has teams subscribe to the topic by the `NOTIFY_TOPIC_ARN` output: the topic
    the notifier publishes to, not the alarms' topic."""
    (notifier,) = [
        fn
        for logical_id, fn in synthesized.resources("AWS::Lambda::Function").items()
        if "FunctionsNotifier" in logical_id
    ]
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    published_to = notifier["Properties"]["Environment"]["Variables"]["NOTIFY_TOPIC_ARN"]
    assert outputs["NOTIFY_TOPIC_ARN"] == published_to
    assert published_to["Ref"].startswith("WarmPoolNotificationsTopic")


def test_least_privilege_on_sagemaker(synthesized: Synthesized) -> None:
    granted = [(name, s) for name, s in statements(synthesized) if s["Effect"] == "Allow"]
    sagemaker_actions = {a for _, s in granted for a in actions(s) if a.startswith("sagemaker:")}
    assert sagemaker_actions == {
        "sagemaker:DescribeTrainingJob",
        "sagemaker:ListTags",
        "sagemaker:DescribeHyperParameterTuningJob",
        "sagemaker:ListTrainingJobs",
        "sagemaker:ListHyperParameterTuningJobs",
        "sagemaker:UpdateTrainingJob",
    }
    for _, statement in granted:
        assert "*" not in actions(statement)
        assert not any(a.endswith(":*") for a in actions(statement)), statement
        if "sagemaker:UpdateTrainingJob" in actions(statement):
            assert actions(statement) == ["sagemaker:UpdateTrainingJob"]
            resource = statement["Resource"]["Fn::Join"][1]
            assert ":training-job/*" in "".join(str(p) for p in resource)
    updaters = {name for name, s in granted if "sagemaker:UpdateTrainingJob" in actions(s)}
    assert len(updaters) == 3  # lifecycle, reconciler, the Slack presses' worker
    assert not any("Notifier" in name for name in updaters)
    # never the function the internet reaches
    assert not any("SlackInteractive" in name for name in updaters)


def test_the_reconciler_may_read_tuning_jobs(synthesized: Synthesized) -> None:
    # It gives a tuning job's pools back to the engine when the tuning job's final event was lost.
    reads = [
        statement
        for name, statement in statements(synthesized)
        if "FunctionsReconciler" in name
        and statement["Effect"] == "Allow"
        and "sagemaker:DescribeHyperParameterTuningJob" in actions(statement)
    ]
    assert len(reads) == 1
    arns = ["".join(str(p) for p in r["Fn::Join"][1]) for r in resources(reads[0]) if "Fn::Join" in r]
    assert any(":hyper-parameter-tuning-job/*" in arn for arn in arns)


SETTINGS: dict[str, type[_EnvSettings]] = {
    "Lifecycle": LifecycleSettings,
    "Reconciler": ReconcilerSettings,
    "Notifier": NotifierSettings,
    "SlackInteractive": SlackInteractiveSettings,
    "SlackPresses": SlackPressSettings,
}


def test_every_function_gets_the_environment_its_settings_require(synthesized: Synthesized) -> None:
    functions = synthesized.resources("AWS::Lambda::Function")
    seen = set()
    for logical_id, fn in functions.items():
        name = next((n for n in SETTINGS if f"Functions{n}" in logical_id), None)
        if name is None:
            continue
        seen.add(name)
        env = fn["Properties"]["Environment"]["Variables"]
        missing = set(SETTINGS[name].required_env_vars()) - set(env)
        assert not missing, f"{name} lacks {missing}"
        assert fn["Properties"]["Runtime"] == "python3.14"
        assert not any("hooks.slack.com" in str(v) for v in env.values())
    assert seen == set(SETTINGS)


def test_asset_holds_the_runtime_and_nothing_for_development(synthesized: Synthesized) -> None:
    (asset,) = synthesized.asset_dirs()
    assert (asset / "warmpool" / "handlers" / "lifecycle.py").is_file()
    assert (asset / "slack_sdk" / "__init__.py").is_file()
    assert (asset / "tzdata").is_dir()
    for excluded in ("emulator", "cli", "simulator", "local", "demo"):
        assert not (asset / "warmpool" / excluded).exists(), excluded
    assert not (asset / "moto").exists()
    assert not list(asset.rglob("__pycache__"))


def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    reports = synthesized.report["pluginReports"]
    assert [r.get("pluginName") for r in reports] == ["AwsSolutions", "Serverless"]
    assert all(not r.get("violations") for r in reports), reports


def test_template_passes_cfn_lint(synthesized: Synthesized) -> None:
    template = synthesized.outdir / "WarmPoolManager.template.json"
    # W3005: CDK adds an explicit DependsOn on each function's role policy on purpose.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_invalid_policy_fails_synth_naming_the_path(tmp_path: Path) -> None:
    from warmpool.domain.policy import PolicyError

    from app import build_app

    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\ndefaults:\n  keep_alive_stratgy: job\n")
    with pytest.raises(PolicyError, match=r"defaults\.keep_alive_stratgy: .*Remove it") as err:
        build_app(context={"warmpool": {"policy_file": str(bad)}}, outdir=str(tmp_path / "out"))
    assert err.value.source == str(bad)  # which file, as well as where in it
    assert len(err.value.problems) == 1
    assert not list(tmp_path.glob("out/*.template.json"))  # and nothing was synthesized


def test_unusable_policies_refused_updates_and_unrepaired_pools_raise_alarms(
    synthesized: Synthesized,
) -> None:
    alarmed = {
        query["MetricStat"]["Metric"]["MetricName"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        for query in alarm["Properties"].get("Metrics", [])
        if "MetricStat" in query
    }
    assert {"PolicyInvalid", "PolicyUnreadable", "PermanentErrors", "ReconcilerFailures"} <= alarmed


def test_no_alarm_reads_an_event_deferred_for_want_of_time_as_a_failure(synthesized: Synthesized) -> None:
    # EventsDeferred counts records an invocation out of time did not start: nothing failed, and ten of
    # them must not page as EventsRetried's ten failures do
    alarmed = {
        query["MetricStat"]["Metric"]["MetricName"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        for query in alarm["Properties"].get("Metrics", [])
        if "MetricStat" in query
    }
    assert "EventsRetried" in alarmed
    assert "EventsDeferred" not in alarmed


def test_notifications_failing_and_retried_raise_an_alarm_before_the_notify_dlq(
    synthesized: Synthesized,
) -> None:
    # A Slack or SNS outage failed every notification for the 25 to 30 minutes before the first reached
    # the notify DLQ, and no alarm said so: the notifier counts NotificationsRetried, as the lifecycle
    # function counts EventsRetried, in the namespace and with the dimension it emits it
    (alarm,) = [
        a["Properties"]
        for name, a in synthesized.resources("AWS::CloudWatch::Alarm").items()
        if "NotificationsRetried" in name
    ]
    (query,) = alarm["Metrics"]
    stat = query["MetricStat"]
    assert stat["Metric"] == {
        "Namespace": "WarmPool",
        "MetricName": "NotificationsRetried",
        "Dimensions": [{"Name": "service", "Value": "warmpool"}],
    }
    assert (stat["Stat"], stat["Period"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "Sum",
        300,
        10,
        1,
    )
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert "notifier's log" in alarm["AlarmDescription"]


def test_cloudwatch_may_publish_alarms_to_the_encrypted_alarm_topic(synthesized: Synthesized) -> None:
    # The alarm topic is encrypted with warmpool's own key and has its own access policy (TLS only):
    # CloudWatch delivers an alarm only if both let it, else every alarm fires into the void.
    (topic_name,) = [name for name in synthesized.resources("AWS::SNS::Topic") if "AlarmTopic" in name]
    topic = synthesized.template["Resources"][topic_name]
    key_name = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_policy = synthesized.template["Resources"][key_name]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}
    key_actions = {a for s in key_policy if s.get("Principal") == cloudwatch for a in actions(s)}
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= key_actions
    (topic_policy,) = [
        p
        for p in synthesized.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_name} in p["Properties"]["Topics"]
    ]
    publishers = [
        s
        for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") == cloudwatch and "sns:Publish" in actions(s)
    ]
    assert len(publishers) == 1
    # only the alarms of this account: no other account's alarms may post to it
    assert publishers[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_topic_every_alarm_goes_to_is_a_stack_output(synthesized: Synthesized) -> None:
    """docs/deploy.md sends the on-call engineer to subscribe to the `AlarmTopic` (`alarm_email` takes one
    address): by the `ALARM_TOPIC_ARN` output, as the teams subscribe to notifications by theirs."""
    outputs = {o["Description"]: o["Value"] for o in synthesized.template["Outputs"].values()}
    alarms = synthesized.resources("AWS::CloudWatch::Alarm").values()
    assert alarms
    assert all(alarm["Properties"]["AlarmActions"] == [outputs["ALARM_TOPIC_ARN"]] for alarm in alarms)


def test_the_slack_endpoint_queues_presses_for_a_worker_and_may_do_nothing_else(
    synthesized: Synthesized,
) -> None:
    """Slack waits 3 s for the acknowledgement: the endpoint checks a press and queues it; the worker
    applies it (docs/adr/0010). The function the internet reaches may read the signing secret, write
    the registry's items (replay markers, request counts) and queue a press: no SageMaker, schedule,
    policy, audit or webhooks. The worker is fed by the queue, in batches of one, and keeps a press
    it could not carry out in the DLQ, whose depth alarms."""
    functions = synthesized.resources("AWS::Lambda::Function")
    (endpoint_id,) = [k for k in functions if "FunctionsSlackInteractive" in k]
    (worker_id,) = [k for k in functions if "FunctionsSlackPresses" in k]
    queues = synthesized.resources("AWS::SQS::Queue")
    (queue_id,) = [k for k in queues if "SlackPressQueue" in k and "Dlq" not in k]
    (dlq_id,) = [k for k in queues if "SlackPressQueueDlq" in k]
    queue = queues[queue_id]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert "KmsMasterKeyId" in queue
    assert queue["VisibilityTimeout"] >= 6 * functions[worker_id]["Properties"]["Timeout"]
    endpoint_env = functions[endpoint_id]["Properties"]["Environment"]["Variables"]
    assert endpoint_env["SLACK_PRESS_QUEUE_URL"] == {"Ref": queue_id}
    assert functions[worker_id]["Properties"]["Environment"]["Variables"]["SLACK_PRESS_DLQ_URL"] == {
        "Ref": dlq_id
    }
    assert functions[worker_id]["Properties"]["Handler"] == "warmpool.handlers.slack_interactive.worker"
    (mapping,) = [
        m["Properties"]
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert mapping["FunctionName"] == {"Ref": worker_id}
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    endpoint_actions = {
        a
        for policy, statement in statements(synthesized)
        if "FunctionsSlackInteractive" in policy and statement["Effect"] == "Allow"
        for a in actions(statement)
    }
    assert endpoint_actions == {
        "secretsmanager:GetSecretValue",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    sent_to = [
        resources(statement)
        for policy, statement in statements(synthesized)
        if "FunctionsSlackInteractive" in policy and "sqs:SendMessage" in actions(statement)
    ]
    assert sent_to == [[{"Fn::GetAtt": [queue_id, "Arn"]}]]
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    (depth,) = [a["Properties"] for k, a in alarms.items() if "SlackPressDlqDepth" in k]
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    assert any("SlackPressesErrors" in k for k in alarms)


def test_the_slack_endpoint_may_write_only_its_replay_markers_and_request_counts(
    synthesized: Synthesized,
) -> None:
    # The function the internet reaches could put, update and delete any item of the registry table: a
    # compromised one could rewrite or delete every pool's record (its keep-alive plan, its owner).
    (registry,) = [
        statement
        for policy, statement in statements(synthesized)
        if "FunctionsSlackInteractive" in policy
        and any(a.startswith("dynamodb:") for a in actions(statement))
    ]
    assert sorted(actions(registry)) == ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert registry["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SLACKREQ#*", "RATE#*"]}
    }


def _key_policy(synth: Synthesized) -> list[dict[str, Any]]:
    (key,) = synth.resources("AWS::KMS::Key").values()
    found: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return found


def test_the_key_lets_each_service_only_what_it_needs_and_only_for_this_account(
    synthesized: Synthesized,
) -> None:
    """EventBridge delivering to the encrypted lifecycle queue (and its DLQ) needs a data key and Decrypt,
    as the SQS and EventBridge guides say; CloudWatch publishing alarms to the encrypted alarm topic the
    same (GenerateDataKey*, as SNS documents). The CDK's queue target gave EventBridge Encrypt and
    ReEncrypt* besides, and CloudWatch's statement had no condition: any account's alarm could use the key."""
    services = {
        s["Principal"]["Service"]: s for s in _key_policy(synthesized) if "Service" in s.get("Principal", {})
    }
    assert set(services) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    this_account = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    events = services["events.amazonaws.com"]
    assert sorted(actions(events)) == ["kms:Decrypt", "kms:GenerateDataKey"]
    # EventBridge's rules are created after the queue the key encrypts: their ARNs would make a cycle
    assert events["Condition"] == {"StringEquals": this_account}
    cloudwatch = services["cloudwatch.amazonaws.com"]
    assert sorted(actions(cloudwatch)) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == this_account
    alarms = cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert "".join(p if isinstance(p, str) else str(p) for p in alarms).endswith(":alarm:*")
    # the account's own principals keep the key (the default key policy: IAM policies grant its use; the
    # Secrets Manager statement the CDK adds for the secrets grants nothing besides)
    (root,) = [
        s for s in _key_policy(synthesized) if "AWS" in s.get("Principal", {}) and "Condition" not in s
    ]
    assert ":root" in str(root["Principal"]["AWS"])
    assert actions(root) == ["kms:*"]


def test_eventbridge_may_only_send_each_rules_events_to_the_lifecycle_queue(synthesized: Synthesized) -> None:
    """The CDK's queue target let EventBridge also GetQueueUrl and GetQueueAttributes, and any rule of the
    account send to the lifecycle queue; it needs SendMessage, from warmpool's own rules."""
    rules = {
        name
        for name, r in synthesized.resources("AWS::Events::Rule").items()
        if "EventPattern" in r["Properties"]
    }
    senders: dict[str, set[str]] = {}
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow" or statement["Principal"] != {
                "Service": "events.amazonaws.com"
            }:
                continue
            assert actions(statement) == ["sqs:SendMessage"], statement
            assert set(statement["Condition"]) == {"ArnEquals"}, statement
            source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
            (queue,) = resources(statement)
            senders.setdefault(queue["Fn::GetAtt"][0], set()).update(
                s["Fn::GetAtt"][0] for s in (source if isinstance(source, list) else [source])
            )
    # the lifecycle queue and its DLQ (what EventBridge could not deliver), each from every rule
    assert sorted(q[:-8] for q in senders) == [
        "WarmPoolStorageLifecycleQueue",
        "WarmPoolStorageLifecycleQueueDlq",
    ]
    assert all(rule_names == rules for rule_names in senders.values())


def test_a_rule_sends_cloudtrails_record_of_each_update_training_job_to_the_lifecycle_queue(
    synthesized: Synthesized,
) -> None:
    """A keep-alive set outside warmpool (the console, someone's own UpdateTrainingJob) was seen only at
    the pool's next look: SageMaker sends no state-change event for it. CloudTrail's record of the call
    (an account with a trail) now reaches the lifecycle queue, the successful calls only."""
    (rule,) = [
        r
        for r in synthesized.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == ["AWS API Call via CloudTrail"]
    ]
    assert rule["Properties"]["State"] == "ENABLED"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["sagemaker.amazonaws.com"],
            "eventName": ["UpdateTrainingJob"],
            "errorCode": [{"exists": False}],
        },
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("WarmPoolStorageLifecycleQueue")
    assert not target["Arn"]["Fn::GetAtt"][0].startswith("WarmPoolStorageLifecycleQueueDlq")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("WarmPoolStorageLifecycleQueueDlq")


def test_only_warmpools_own_schedule_group_may_use_the_schedulers_role(synthesized: Synthesized) -> None:
    """The role EventBridge Scheduler takes to send step messages to the lifecycle queue trusted any schedule
    of the account: one made in another group with this role (who may pass it) sent the engine forged
    steps. EventBridge Scheduler names the schedule group as the source (its confused-deputy guide)."""
    (role,) = [r for n, r in synthesized.resources("AWS::IAM::Role").items() if "SchedulerRole" in n]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    group = trust["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Join"][1]
    assert "".join(p if isinstance(p, str) else "" for p in group).endswith(
        ":schedule-group/WarmPoolManager-steps"
    )


def test_the_registry_and_the_audit_trail_cannot_be_deleted_and_every_topic_is_encrypted(
    synthesized: Synthesized,
) -> None:
    """The stack retains both tables, but anyone allowed DeleteTable (a console click) could delete the
    audit trail and the registry; point-in-time recovery ends with the table. Deletion protection refuses
    that until it is turned off. The idempotency table, destroyed with the stack, has none (the stack's
    deletion would fail)."""
    tables = synthesized.resources("AWS::DynamoDB::GlobalTable")
    protected = {
        name[: -len("00000000")]: table["Properties"]["Replicas"][0].get("DeletionProtectionEnabled", False)
        for name, table in tables.items()
    }
    assert protected == {
        "WarmPoolStoragePools": True,
        "WarmPoolStorageAudit": True,
        "WarmPoolStorageIdempotency": False,
    }
    assert all(t["DeletionPolicy"] == "Retain" for n, t in tables.items() if "Idempotency" not in n)
    topics = synthesized.resources("AWS::SNS::Topic").values()
    assert len(topics) == 2  # owners' notifications, alarms: both under warmpool's key
    assert all("KmsMasterKeyId" in t["Properties"] for t in topics)


def test_the_notifier_may_keep_slack_messages_with_the_pools_and_nothing_else_there(
    synthesized: Synthesized,
) -> None:
    """Bot-token mode keeps each Slack message with buttons (channel, ts) in the registry table beside
    its pool, for chat.update when the pool ends: the notifier is told the table, and may put, query and
    delete items of the pools' partitions only."""
    (notifier,) = [
        fn
        for logical_id, fn in synthesized.resources("AWS::Lambda::Function").items()
        if "FunctionsNotifier" in logical_id
    ]
    environment = notifier["Properties"]["Environment"]["Variables"]
    assert environment["POOLS_TABLE_NAME"]["Ref"].startswith("WarmPoolStoragePools")
    grants = [
        s
        for name, s in statements(synthesized)
        if "Notifier" in name and any("Pools" in str(r) for r in resources(s))
    ]
    assert len(grants) == 1
    assert sorted(actions(grants[0])) == ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"]
    assert grants[0]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["POOL#*"]}}
