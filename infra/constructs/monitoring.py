"""Alarms and the dashboard."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import METRICS_NAMESPACE
from infra.constructs.storage import Storage

# Lifecycle events failed (and retried) in five minutes that page the on-call: one is a blip that the
# retry absorbs; ten is an outage, told before the first event reaches the DLQ 25 to 30 minutes on
EVENTS_RETRIED_THRESHOLD = 10
# Likewise the notifier's messages (SNS or Slack failing past the retries), before the notify DLQ
NOTIFICATIONS_RETRIED_THRESHOLD = 10


def _metric(name: str, service: str, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
    """One of the functions' metrics, with the `service` dimension they publish it under (the stack's
    `metrics_service`): another stack's in the same account, under another, is not this one's."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=Duration.minutes(5),
        label=label or name,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: Storage,
        functions: list[lambda_.Function],
        alarm_email: str | None,
        metrics_service: str,
        press_dlq: sqs.Queue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        def ours(name: str, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
            return _metric(name, metrics_service, statistic, label)

        stack = Stack.of(self)
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            master_key=storage.key,
            enforce_ssl=True,
            display_name=f"{stack.stack_name} warmpool alarms",  # two stacks told apart (docs/deploy.md)
        )
        # What the on-call engineers subscribe to besides `alarm_email` (one address): an output whose
        # description is its variable, as the notifications topic's is (docs/cli.md exports them).
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn, description="ALARM_TOPIC_ARN")
        # CloudWatch publishes alarms as a service: the topic's own policy (which replaces SNS's default
        # one) and the key must both let it, or every alarm fires without anyone hearing of it.
        # Both only for this account's alarms (CloudWatch names the alarm as the request's source, the
        # confused-deputy conditions CloudWatch and SNS document): no other account's alarm may publish to
        # the topic, nor have the key make data keys.
        cloudwatch_alarms = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        this_accounts_alarms = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        }
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[cloudwatch_alarms],
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions=this_accounts_alarms,
            )
        )
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToEncryptedTopic",
                principals=[cloudwatch_alarms],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # a key policy's resource is the key itself
                conditions=this_accounts_alarms,
            )
        )
        # The address the operator gave: SNS tries an email for 6 hours, then drops it (cdk-nag's
        # Serverless checks want a DLQ for it, stack.py says why none: the alarm is not lost with it).
        self.alarm_email_subscription: sns.Subscription | None = None
        if alarm_email:
            self.alarm_email_subscription = self.alarm_topic.add_subscription(
                subscriptions.EmailSubscription(alarm_email)
            )
        action = actions.SnsAction(self.alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(name: str, metric: cloudwatch.IMetric, description: str, threshold: int = 1) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        dlqs: list[tuple[str, sqs.Queue]] = [
            ("Lifecycle", storage.lifecycle_dlq),
            ("Notify", storage.notify_dlq),
        ]
        for label, dlq in dlqs:
            alarm(
                f"{label}DlqDepth",
                dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                f"Messages in the {label.lower()} DLQ: their 'reason' attribute, else the function's log; "
                "fix, redrive",
            )
        if press_dlq is not None:  # the Slack presses that could not be carried out (slack_endpoint)
            dlqs.append(("SlackPress", press_dlq))
            alarm(
                "SlackPressDlqDepth",
                press_dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                "Slack presses that could not be carried out: their 'reason' attribute and the SlackPresses "
                "function's log; the people who pressed were told to press again; fix, then delete them",
            )
        for fn in functions:
            alarm(f"{fn.node.id}Errors", fn.metric_errors(period=Duration.minutes(5)), f"{fn.node.id} failed")
        alarm(
            "PolicyInvalid",
            ours("PolicyInvalid"),
            "The policy document in SSM is invalid; warmpool keeps deciding by the last good one it "
            "read, or, in a function that has read none, by the parameter's last valid version (the "
            "built-in policy, each job's own keep-alive, when none is valid): the log names each problem "
            "and the version it decides by",
        )
        alarm(
            "PolicyUnreadable",
            ours("PolicyUnreadable"),
            "The policy parameter in SSM could not be read; warmpool keeps deciding by the last good "
            "one it read (a function that has read none fails the event, which is retried)",
        )
        alarm(
            "PermanentErrors",
            ours("PermanentErrors"),
            "A keep-alive update was refused; see the pool audit",
        )
        alarm(
            "ReconcilerFailures",
            ours("ReconcilerFailures"),
            "The reconciler could not repair some pools; its log lists them with their errors",
        )
        alarm(
            "EventsRetried",
            ours("EventsRetried"),
            f"{EVENTS_RETRIED_THRESHOLD} or more lifecycle events failed in five minutes and went back to "
            "the queue (SageMaker or DynamoDB throttled or down, a permission missing): the lifecycle "
            "function's log names the error; SQS retries them, and keeps in the DLQ those that fail 5 times",
            threshold=EVENTS_RETRIED_THRESHOLD,
        )
        alarm(
            "NotificationsRetried",
            ours("NotificationsRetried"),
            f"{NOTIFICATIONS_RETRIED_THRESHOLD} or more notifications failed in five minutes and went back "
            "to the notify queue (SNS or DynamoDB throttled or down, Slack failing, the webhooks secret "
            "unreadable): the notifier's log names the error; SQS retries them, and keeps in the notify DLQ "
            "those that fail 5 times",
            threshold=NOTIFICATIONS_RETRIED_THRESHOLD,
        )
        alarm(
            "SlackDeliveryFailed",
            ours("SlackDeliveryFailed"),
            "Slack refused a message (webhook gone?); its SNS copy was sent all the same",
        )

        # `<stack name>-warmpool`: readable, and each stack's own (two stacks in one account, docs/deploy.md)
        dashboard_name = f"{stack.stack_name}-warmpool"
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Available pools and warm instances",
                left=[ours("PoolsAvailable", "Maximum"), ours("WarmInstances", "Maximum")],
            ),
            cloudwatch.GraphWidget(
                title="Idle billable hours",
                left=[
                    cloudwatch.MathExpression(
                        expression="m1 / 3600",
                        using_metrics={"m1": ours("IdleBillableSeconds")},
                        label="idle instance-hours",
                        period=Duration.hours(1),
                    )
                ],
            ),
            cloudwatch.GraphWidget(
                title="Warm vs cold starts",
                left=[
                    ours("Reuses", label="warm starts"),
                    ours("MissedPools", label="missed pools"),
                    ours("Expiries", label="expiries"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Decisions by action",
                left=[ours(f"Decisions{a}") for a in ("Keep", "Extend", "Shorten", "Release", "Notify")],
            ),
            cloudwatch.GraphWidget(
                title="DLQ depth", left=[q.metric_approximate_number_of_messages_visible() for _, q in dlqs]
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[
                    *(fn.metric_errors() for fn in functions),
                    ours("PermanentErrors"),
                    ours("ReconcilerFailures"),
                    ours("EventsRejected"),
                    ours("EventsRetried"),
                    ours("NotificationsRetried"),
                    ours("SlackDeliveryFailed"),
                ],
            ),
        )
