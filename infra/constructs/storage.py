"""State and queues: the registry, audit and idempotency tables, the lifecycle and notify queues with DLQs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    DLQ_RETENTION_DAYS,
    MATCH_INDEX,
    MAX_RECEIVE_COUNT,
    STATUS_INDEX,
    TEAM_INDEX,
    TYPE_INDEX,
)


def queue_pair(
    scope: Construct, name: str, key: kms.IKey, visibility: Duration
) -> tuple[sqs.Queue, sqs.Queue]:
    """A KMS-encrypted, TLS-only queue and its DLQ, which keeps a message 14 days."""
    dlq = sqs.Queue(
        scope,
        f"{name}Dlq",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(DLQ_RETENTION_DAYS),
    )
    queue = sqs.Queue(
        scope,
        name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        visibility_timeout=visibility,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
    )
    return queue, dlq


def _keyed_table(
    scope: Construct,
    name: str,
    key: kms.IKey,
    global_secondary_indexes: list[dynamodb.GlobalSecondaryIndexPropsV2] | None = None,
) -> dynamodb.TableV2:
    """A retained, recoverable on-demand table keyed on `pk`/`sk`, whose items expire at their `ttl`, that
    nobody can delete (DeleteTable) until its deletion protection is turned off: its point-in-time
    recovery would end with it. Encrypted with the stack's own key (`Storage.key`)."""
    table = dynamodb.TableV2(
        scope,
        name,
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        time_to_live_attribute="ttl",
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        global_secondary_indexes=global_secondary_indexes,
        removal_policy=RemovalPolicy.RETAIN,
        deletion_protection=True,
    )
    return _under_key(table, key)


def _under_key(table: dynamodb.TableV2, key: kms.IKey) -> dynamodb.TableV2:
    """The table encrypted with warmpool's own key instead of an AWS-owned one. Written on the template,
    as `TableEncryptionV2.customer_managed_key` cannot be in a stack deployed to any region: the key is
    its one replica's, the stack's region's."""
    cfn = table.node.default_child
    assert isinstance(cfn, dynamodb.CfnGlobalTable)
    cfn.add_property_override("SSESpecification", {"SSEEnabled": True, "SSEType": "KMS"})
    cfn.add_property_override("Replicas.0.SSESpecification", {"KMSMasterKeyId": key.key_arn})
    return table


def _index(name: str, partition_key: str, sort_key: str) -> dynamodb.GlobalSecondaryIndexPropsV2:
    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=name,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING),
    )


class Storage(Construct):
    """Everything that holds state or messages; encrypted, TLS-only, recoverable."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # The one key of everything warmpool keeps at rest (tables, queues, topics, secrets), rotated
        # yearly: its use is granted role by role, each the actions its calls need (grants.py)
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description="warmpool tables, queues, notifications and secrets",
        )
        # What the people using the CLI and the auditors are granted kms:Decrypt on (docs/deploy.md)
        CfnOutput(self, "KmsKeyArn", value=self.key.key_arn, description="KMS_KEY_ARN")
        self.pools_table = _keyed_table(
            self,
            "Pools",
            self.key,
            global_secondary_indexes=[
                _index(STATUS_INDEX, "gsi1pk", "gsi1sk"),
                # sparse: the pools that have not ended, by match key (a new job's predecessor and peers)
                _index(MATCH_INDEX, "gsi2pk", "gsi2sk"),
                # sparse: the Available pools, by team tag (a decision reads its own team's pools)
                _index(TEAM_INDEX, "gsi3pk", "gsi3sk"),
                # sparse: the Available pools, by instance type (an instance-type limit counts them all)
                _index(TYPE_INDEX, "gsi4pk", "gsi4sk"),
            ],
        )
        # The audit trail has a table of its own: append-only and read per pool, it keeps the registry
        # table small, can be granted read-only to auditors and is retained on its own terms.
        self.audit_table = _keyed_table(self, "Audit", self.key)
        self.idempotency_table = _under_key(
            dynamodb.TableV2(
                self,
                "Idempotency",
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                billing=dynamodb.Billing.on_demand(),
                time_to_live_attribute="expiration",
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                removal_policy=RemovalPolicy.DESTROY,
            ),
            self.key,
        )
        # Visibility must exceed the consuming function's timeout (AWS recommends 6x).
        self.lifecycle_queue, self.lifecycle_dlq = queue_pair(
            self, "LifecycleQueue", self.key, Duration.minutes(6)
        )
        self.notify_queue, self.notify_dlq = queue_pair(self, "NotifyQueue", self.key, Duration.minutes(6))
        # What the DLQ alarms' runbooks (docs/deploy.md) name: a DLQ's URL to look at its messages, its
        # ARN and its queue's for the redrive (`aws sqs start-message-move-task`). Each output's
        # description is the variable the runbooks use, as the CLI's settings are (docs/cli.md).
        for label, queue, dlq in (
            ("LIFECYCLE", self.lifecycle_queue, self.lifecycle_dlq),
            ("NOTIFY", self.notify_queue, self.notify_dlq),
        ):
            for variable, value in (
                (f"{label}_QUEUE_ARN", queue.queue_arn),
                (f"{label}_DLQ_ARN", dlq.queue_arn),
                (f"{label}_DLQ_URL", dlq.queue_url),
            ):
                CfnOutput(self, variable.title().replace("_", ""), value=value, description=variable)
