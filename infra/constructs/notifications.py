"""Owners hear about their pools: the SNS topic, Slack secrets, the notifier, the Slack endpoint."""

from __future__ import annotations

import jsii
from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import StackConfig
from infra.constants import LAMBDA_HANDLERS, SLACK_ENDPOINT_TIMEOUT_SECONDS, SLACK_PRESSES_TIMEOUT_SECONDS
from infra.constructs.functions import FunctionFactory, log_retention
from infra.constructs.grants import (
    consume_queue,
    read_policy_parameter,
    read_secret,
    send_to_queue,
    use_table_key,
)
from infra.constructs.lifecycle import Lifecycle
from infra.constructs.storage import Storage, queue_pair


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogs:
    """Access logs of the Slack endpoint, in API Gateway's default JSON format."""

    def __init__(self, destination: apigw.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return apigw_v1.AccessLogFormat.json_with_standard_fields(
            caller=False,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=False,
        )


class Notifications(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        factory: FunctionFactory,
        lifecycle: Lifecycle,
        policy: ssm.IStringParameter,
    ) -> None:
        super().__init__(scope, construct_id)
        # Named after the stack: two stacks in one account (docs/deploy.md) are told apart in the console
        # and in the emails' sender name
        stack_name = Stack.of(self).stack_name
        self.topic = sns.Topic(
            self,
            "Topic",
            master_key=storage.key,
            enforce_ssl=True,
            display_name=f"{stack_name} warmpool notifications",
        )
        # What the teams subscribe their queues, functions and addresses to (docs/notifications.md, "SNS"):
        # an output whose description is its variable, as the CLI's settings are (docs/cli.md).
        CfnOutput(self, "NotifyTopicArn", value=self.topic.topic_arn, description="NOTIFY_TOPIC_ARN")
        # Filled in by the operator after deploy; the values never appear in env vars or logs.
        self.webhooks = secretsmanager.Secret(
            self,
            "SlackWebhooks",
            description="warmpool: JSON map of Slack incoming-webhook URLs by key",
            secret_object_value={},
            encryption_key=storage.key,
        )
        # What the SlackDeliveryFailed runbook (docs/deploy.md) puts a channel's new webhook into: an output
        # whose description is the variable, as the DLQ runbooks' queues are. The ARN names the secret, and
        # does not let anyone read it.
        CfnOutput(
            self,
            "SlackWebhooksSecretArn",
            value=self.webhooks.secret_arn,
            description="SLACK_WEBHOOKS_SECRET_ARN",
        )
        self.signing_secret = secretsmanager.Secret(
            self,
            "SlackSigningSecret",
            description="warmpool: the Slack app's signing secret",
            encryption_key=storage.key,
        )
        # What the operator puts the Slack app's signing secret into after deploying, and again after a
        # leak (docs/deploy.md): an output named by its variable, as the webhooks secret is.
        CfnOutput(
            self,
            "SlackSigningSecretArn",
            value=self.signing_secret.secret_arn,
            description="SLACK_SIGNING_SECRET_ARN",
        )
        self.notifier_fn = factory.function(
            "Notifier",
            handler=LAMBDA_HANDLERS["notifier"],
            timeout=Duration.minutes(1),
            environment={
                "NOTIFY_TOPIC_ARN": self.topic.topic_arn,
                "SLACK_WEBHOOKS_SECRET_ARN": self.webhooks.secret_arn,
                "POLICY_PARAMETER_NAME": policy.parameter_name,
                "IDEMPOTENCY_TABLE_NAME": storage.idempotency_table.table_name,
                # bot-token mode: the channel and ts of each message with buttons, kept with its pool
                "POOLS_TABLE_NAME": storage.pools_table.table_name,
            },
        )
        consume_queue(self.notifier_fn, storage.notify_queue, batch_size=10)
        # Publish, and of the topic's key what SNS documents for a publisher (GenerateDataKey*, Decrypt)
        self.topic.grant_publish(self.notifier_fn)
        read_secret(self.notifier_fn, self.webhooks)
        read_policy_parameter(self.notifier_fn, policy)
        # Powertools' claim on each copy sent (the lifecycle function's grant says why each action)
        storage.idempotency_table.grant(
            self.notifier_fn,
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
        )
        # Bot-token mode (docs/notifications.md): the Slack messages kept with a pool (`POOL#<pool id>`,
        # `SLACKMSG#...`), put, read and deleted; items of the pools' partitions only, and no index
        self.notifier_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"],
                resources=[storage.pools_table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["POOL#*"]}},
            )
        )
        use_table_key(self.notifier_fn, storage.key)  # both tables it uses are under warmpool's key

        self.slack_fn: lambda_.Function | None = None
        self.presses_fn: lambda_.Function | None = None
        self.press_dlq: sqs.Queue | None = None
        self.endpoint_url: str | None = None
        if config.slack_endpoint == "none":
            return
        # A press is applied by a worker, not by the endpoint: the endpoint checks it (signature, replay,
        # size, rate), queues it and acknowledges within Slack's 3 s; the worker applies it and posts the
        # outcome (docs/adr/0010). A press that fails is kept in the DLQ, whose depth alarms.
        self.press_queue, self.press_dlq = queue_pair(
            self, "SlackPressQueue", storage.key, Duration.seconds(6 * SLACK_PRESSES_TIMEOUT_SECONDS)
        )
        # What the SlackPressDlqDepth runbook (docs/deploy.md) looks at: an output named by its variable.
        CfnOutput(self, "SlackPressDlqUrl", value=self.press_dlq.queue_url, description="SLACK_PRESS_DLQ_URL")
        self.slack_fn = factory.function(
            "SlackInteractive",
            handler=LAMBDA_HANDLERS["slack_interactive"],
            timeout=Duration.seconds(SLACK_ENDPOINT_TIMEOUT_SECONDS),
            environment={
                "SLACK_SIGNING_SECRET_ARN": self.signing_secret.secret_arn,
                "POOLS_TABLE_NAME": storage.pools_table.table_name,
                "SLACK_PRESS_QUEUE_URL": self.press_queue.queue_url,
            },
            # A function URL has no throttle of its own: anyone may send it requests, and each one, refused
            # unsigned or not, runs the function. Reserved, it runs at most that many at once, and the
            # other functions keep the account's concurrency (the HTTP API's stage throttles instead).
            reserved_concurrency=config.slack_reserved_concurrency,
        )
        # The function the internet reaches may read the signing secret, mark requests heard and count
        # each user's requests in the registry table (items of those two partitions only, `SLACKREQ#...`
        # and `RATE#...`: never a pool's; no query, no other table), and queue a press: nothing of
        # SageMaker, the schedules, the audit trail or the policy, which the worker has.
        read_secret(self.slack_fn, self.signing_secret)
        self.slack_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[storage.pools_table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SLACKREQ#*", "RATE#*"]}},
            )
        )
        use_table_key(self.slack_fn, storage.key)
        send_to_queue(self.slack_fn, self.press_queue)
        self.presses_fn = factory.function(
            "SlackPresses",
            handler=LAMBDA_HANDLERS["slack_presses"],
            timeout=Duration.seconds(SLACK_PRESSES_TIMEOUT_SECONDS),
            environment={
                **lifecycle.engine_environment,
                "SLACK_PRESS_DLQ_URL": self.press_dlq.queue_url,
            },
        )
        consume_queue(self.presses_fn, self.press_queue, batch_size=1)
        # A press acts on a pool the registry knows (its tags are the record's): no ListTags, and no
        # listing of jobs or check of schedules, which are the reconciler's. It answers on the press's
        # response_url, never through a webhook: no secret at all.
        lifecycle.grant_engine(self.presses_fn, storage=storage, policy=policy, config=config)
        send_to_queue(self.presses_fn, self.press_dlq)  # a press that failed, once its person is told
        if config.slack_endpoint == "function-url":
            url = self.slack_fn.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
            self.endpoint_url = url.url
        else:
            access_logs = logs.LogGroup(
                self, "ApiAccessLogs", retention=log_retention(config.log_retention_days)
            )
            self.api = apigw.HttpApi(
                self,
                "SlackApi",
                api_name=f"{stack_name}-slack",
                description="Slack interactivity for warmpool (requests are verified by signature)",
                create_default_stage=False,
            )
            self.api.add_routes(
                path="/slack/actions",
                methods=[apigw.HttpMethod.POST],
                integration=integrations.HttpLambdaIntegration("SlackActions", self.slack_fn),
            )
            stage = apigw.HttpStage(
                self,
                "DefaultStage",
                http_api=self.api,
                auto_deploy=True,
                throttle=apigw.ThrottleSettings(rate_limit=20, burst_limit=40),
                access_log_settings=_AccessLogs(apigw.LogGroupLogDestination(access_logs)),
            )
            self.endpoint_url = f"{stage.url}slack/actions"
        CfnOutput(
            self,
            "SlackRequestUrl",
            value=self.endpoint_url,
            description="Set as the Request URL of your Slack app's Interactivity",
        )
