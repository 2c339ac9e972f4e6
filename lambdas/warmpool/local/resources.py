"""Create, on moto, the resources the CDK stack creates, and the environment the handlers expect."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from warmpool.adapters.registry import MATCH_INDEX, STATUS_INDEX, TEAM_INDEX, TYPE_INDEX, DynamoPoolRegistry
from warmpool.models.events import (
    KEEP_ALIVE_CALL_DETAIL_TYPE,
    TRAINING_DETAIL_TYPE,
    TUNING_DETAIL_TYPE,
    rule_patterns,
)
from warmpool.service.ports import PHANTOM_POOLS_REPAIR, TUNING_WATCHES_REPAIR, UNANNOUNCED_MARKS_REPAIR

MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class LocalEnvironment:
    region: str
    pools_table: str
    audit_table: str
    idempotency_table: str
    lifecycle_queue_url: str
    lifecycle_queue_arn: str
    lifecycle_dlq_url: str
    notify_queue_url: str
    notify_dlq_url: str
    topic_arn: str
    scheduler_group: str
    scheduler_role_arn: str
    policy_parameter: str
    slack_webhooks_secret_arn: str
    slack_signing_secret_arn: str
    slack_press_queue_url: str
    slack_press_dlq_url: str

    def env(self) -> dict[str, str]:
        """Environment variables, as the stack sets them on the functions."""
        return {
            "AWS_DEFAULT_REGION": self.region,
            "POOLS_TABLE_NAME": self.pools_table,
            "AUDIT_TABLE_NAME": self.audit_table,
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table,
            "POLICY_PARAMETER_NAME": self.policy_parameter,
            "NOTIFY_QUEUE_URL": self.notify_queue_url,
            "NOTIFY_TOPIC_ARN": self.topic_arn,
            "SCHEDULER_GROUP_NAME": self.scheduler_group,
            "SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
            "SCHEDULER_TARGET_ARN": self.lifecycle_queue_arn,
            "LIFECYCLE_DLQ_URL": self.lifecycle_dlq_url,
            "SLACK_WEBHOOKS_SECRET_ARN": self.slack_webhooks_secret_arn,
            "SLACK_SIGNING_SECRET_ARN": self.slack_signing_secret_arn,
            "SLACK_PRESS_QUEUE_URL": self.slack_press_queue_url,
            "SLACK_PRESS_DLQ_URL": self.slack_press_dlq_url,
            "POLICY_CACHE_SECONDS": "0",
            "POWERTOOLS_SERVICE_NAME": "warmpool",
            "POWERTOOLS_METRICS_NAMESPACE": "WarmPool",
        }


def _queue(sqs: Any, name: str, dlq_arn: str | None = None) -> tuple[str, str]:
    attributes = {"VisibilityTimeout": "30"}
    if dlq_arn:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
        )
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def _table(dynamodb: Any, name: str, *, pk: str, sk: str | None, gsi: bool) -> None:
    keys = [{"AttributeName": pk, "KeyType": "HASH"}]
    attributes = [{"AttributeName": pk, "AttributeType": "S"}]
    if sk:
        keys.append({"AttributeName": sk, "KeyType": "RANGE"})
        attributes.append({"AttributeName": sk, "AttributeType": "S"})
    extra: dict[str, Any] = {}
    if gsi:
        indexes = {
            STATUS_INDEX: ("gsi1pk", "gsi1sk"),
            MATCH_INDEX: ("gsi2pk", "gsi2sk"),
            TEAM_INDEX: ("gsi3pk", "gsi3sk"),
            TYPE_INDEX: ("gsi4pk", "gsi4sk"),
        }
        attributes += [
            {"AttributeName": name, "AttributeType": "S"} for keys in indexes.values() for name in keys
        ]
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in indexes.items()
        ]
    dynamodb.create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def put_lifecycle_rules(
    events: Any, prefix: str, lifecycle_arn: str, job_name_prefixes: tuple[str, ...] = ()
) -> None:
    """The rules feeding the lifecycle queue, with the stack's patterns (`job_name_prefixes`: only the
    jobs whose names begin with one of them); put again, a rule takes the new pattern."""
    patterns = rule_patterns(job_name_prefixes)
    for rule, detail_type in (
        ("training", TRAINING_DETAIL_TYPE),
        ("tuning", TUNING_DETAIL_TYPE),
        ("keep-alive-calls", KEEP_ALIVE_CALL_DETAIL_TYPE),
    ):
        events.put_rule(Name=f"{prefix}-{rule}", EventPattern=json.dumps(patterns[detail_type]))
        events.put_targets(Rule=f"{prefix}-{rule}", Targets=[{"Id": "lifecycle", "Arn": lifecycle_arn}])


def create_local_environment(
    session: Any, *, policy_json: str = '{"version": 1}', prefix: str = "warmpool", region: str = "us-east-1"
) -> LocalEnvironment:
    """`session` is a boto3 Session (or the boto3 module) already pointed at moto."""
    sqs = session.client("sqs", region_name=region)
    dynamodb = session.client("dynamodb", region_name=region)
    events = session.client("events", region_name=region)
    scheduler = session.client("scheduler", region_name=region)
    sns = session.client("sns", region_name=region)
    ssm = session.client("ssm", region_name=region)
    iam = session.client("iam", region_name=region)
    secrets = session.client("secretsmanager", region_name=region)

    _table(dynamodb, f"{prefix}-pools", pk="pk", sk="sk", gsi=True)
    _table(dynamodb, f"{prefix}-audit", pk="pk", sk="sk", gsi=False)
    # A new registry has no pool written before its indexes, no phantom pool an older version left, no
    # tuning job an older version did not watch and no notice it left unlisted: the reconciler's first
    # run records that (until then, a decision reads every Available pool); the local registry starts
    # as that run leaves it.
    registry = DynamoPoolRegistry(f"{prefix}-pools", dynamodb, audit_table_name=f"{prefix}-audit")
    registry.backfill_indexes()
    registry.record_upgraded(PHANTOM_POOLS_REPAIR)
    registry.record_upgraded(TUNING_WATCHES_REPAIR)
    registry.record_upgraded(UNANNOUNCED_MARKS_REPAIR)
    _table(dynamodb, f"{prefix}-idempotency", pk="id", sk=None, gsi=False)
    lifecycle_dlq_url, lifecycle_dlq_arn = _queue(sqs, f"{prefix}-lifecycle-dlq")
    lifecycle_url, lifecycle_arn = _queue(sqs, f"{prefix}-lifecycle", lifecycle_dlq_arn)
    notify_dlq_url, notify_dlq_arn = _queue(sqs, f"{prefix}-notify-dlq")
    notify_url, _ = _queue(sqs, f"{prefix}-notify", notify_dlq_arn)
    press_dlq_url, press_dlq_arn = _queue(sqs, f"{prefix}-slack-press-dlq")
    press_url, _ = _queue(sqs, f"{prefix}-slack-press", press_dlq_arn)
    put_lifecycle_rules(events, prefix, lifecycle_arn)
    scheduler.create_schedule_group(Name=f"{prefix}-steps")
    role = iam.create_role(
        RoleName=f"{prefix}-scheduler",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    topic_arn = sns.create_topic(Name=f"{prefix}-notifications")["TopicArn"]
    ssm.put_parameter(Name=f"/{prefix}/policy", Value=policy_json, Type="String", Overwrite=True)
    webhooks = secrets.create_secret(Name=f"{prefix}/slack-webhooks", SecretString="{}")["ARN"]
    signing = secrets.create_secret(
        Name=f"{prefix}/slack-signing-secret", SecretString="local-signing-secret"
    )["ARN"]
    return LocalEnvironment(
        region=region,
        pools_table=f"{prefix}-pools",
        audit_table=f"{prefix}-audit",
        idempotency_table=f"{prefix}-idempotency",
        lifecycle_queue_url=lifecycle_url,
        lifecycle_queue_arn=lifecycle_arn,
        lifecycle_dlq_url=lifecycle_dlq_url,
        notify_queue_url=notify_url,
        notify_dlq_url=notify_dlq_url,
        topic_arn=topic_arn,
        scheduler_group=f"{prefix}-steps",
        scheduler_role_arn=role,
        policy_parameter=f"/{prefix}/policy",
        slack_webhooks_secret_arn=webhooks,
        slack_press_queue_url=press_url,
        slack_press_dlq_url=press_dlq_url,
        slack_signing_secret_arn=signing,
    )
