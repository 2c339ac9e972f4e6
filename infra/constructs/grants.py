"""Grants as warmpool's code uses its queues, parameter and secrets: the actions it calls, and those AWS
calls on its behalf, instead of CDK's broad helpers (`grant_send_messages` adds `GetQueueUrl` and, on
the key, `Encrypt` and `ReEncrypt*`; `grant_read` on a parameter adds `GetParameters` and
`DescribeParameters`; on a secret, `DescribeSecret`). tests/infra/test_calls_and_metrics.py holds each
role to what its function is seen to need."""

from __future__ import annotations

from aws_cdk import Duration, Names
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm


def _key_arn(queue: sqs.IQueue) -> str:
    key = queue.encryption_master_key
    assert key is not None, f"{queue.node.path}: warmpool's queues are all KMS-encrypted"
    return key.key_arn


def send_to_queue(grantee: iam.IGrantable, queue: sqs.IQueue) -> None:
    """`SendMessage`, and what SQS asks of the queue's key on the sender's behalf: a data key to encrypt
    the message with (`GenerateDataKey`), and `Decrypt` to reuse a cached one."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
    )
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[_key_arn(queue)])
    )


def consume_queue(
    fn: lambda_.Function,
    queue: sqs.IQueue,
    *,
    batch_size: int,
    max_batching_window: Duration | None = None,
) -> None:
    """The function fed by `queue`, failed records reported one by one, its role allowed what Lambda's
    poller does with it: receive, delete and read the queue's attributes (Lambda's documented needs:
    it never changes a message's visibility, a failed record comes back when its timeout ends), and
    decrypt what it receives. The mapping keeps the id `SqsEventSource` gives it (same logical id)."""
    fn.add_event_source_mapping(
        f"SqsEventSource:{Names.node_unique_id(queue.node)}",
        event_source_arn=queue.queue_arn,
        batch_size=batch_size,
        max_batching_window=max_batching_window,
        report_batch_item_failures=True,
    )
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            resources=[queue.queue_arn],
        )
    )
    fn.add_to_role_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[_key_arn(queue)]))


def read_policy_parameter(fn: lambda_.IFunction, parameter: ssm.IStringParameter) -> None:
    """`GetParameter`, and `GetParameterHistory`: a function started while the document is invalid
    decides by its last valid version (adapters/policy_store.py)."""
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["ssm:GetParameter", "ssm:GetParameterHistory"], resources=[parameter.parameter_arn]
        )
    )


def read_secret(fn: lambda_.IFunction, secret: secretsmanager.ISecret) -> None:
    """`GetSecretValue` only: the code reads the value, never the secret's description; and `Decrypt` of
    the secret's key, which Secrets Manager asks of the reader to decrypt the value."""
    fn.add_to_role_policy(
        iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret.secret_arn])
    )
    key = secret.encryption_key
    assert key is not None, f"{secret.node.path}: warmpool's secrets are all under its KMS key"
    fn.add_to_role_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))


def use_table_key(grantee: iam.IGrantable, key: kms.IKey) -> None:
    """`Decrypt` of the key warmpool's tables are encrypted with (`Storage`): what DynamoDB asks of the
    caller for every read and write of a table under a customer managed key (it decrypts the table's
    key with the caller's rights, then caches it for five minutes); never `Encrypt` or a data key,
    which DynamoDB makes with the grant it took when the table was created."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn])
    )
