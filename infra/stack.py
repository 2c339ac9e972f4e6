"""The warmpool stack: the WarmPoolManager construct, and the cdk-nag findings acknowledged with reasons."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Stack
from constructs import Construct

from infra.config import StackConfig
from infra.manager import WarmPoolManager


def nag_acknowledgments(stack: Stack, manager: WarmPoolManager, config: StackConfig) -> dict[str, str]:
    """Every cdk-nag finding warmpool accepts, one by one, each with the reason it is acceptable."""
    group = manager.lifecycle.schedule_group_name
    iam5 = "AwsSolutions::AwsSolutions-IAM5"
    account = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
    basic_role = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    training_jobs = account.format(service="sagemaker", resource="training-job/*")
    tuning_jobs = account.format(service="sagemaker", resource="hyper-parameter-tuning-job/*")
    schedules = account.format(service="scheduler", resource=f"schedule/{group}/*")
    return {
        f"AwsSolutions::AwsSolutions-IAM4[Policy::{basic_role}]": (
            "Grants only writing the function's own CloudWatch logs"
        ),
        f"{iam5}[Action::kms:GenerateDataKey*]": (
            "What SNS documents a publisher to its KMS-encrypted topic needs (the notifier)"
        ),
        f"{iam5}[Resource::*]": (
            "sagemaker:ListTrainingJobs, ListHyperParameterTuningJobs and X-Ray PutTraceSegments have no "
            "resource-level permissions"
        ),
        f"{iam5}[Resource::{training_jobs}]": (
            "Users create training jobs with names warmpool cannot know; Describe/ListTags/Update only, "
            "never Create or Stop"
        ),
        f"{iam5}[Resource::{tuning_jobs}]": "Describe only, for the tuning jobs users create",
        **{
            f"{iam5}[Resource::{account.format(service='sagemaker', resource=f'training-job/{name}')}]": (
                "UpdateTrainingJob only, on the jobs whose names begin with one of job_name_prefixes (users "
                "create them with names warmpool cannot know in full)"
            )
            for name in {f"{p.lower()}*" for p in config.job_name_prefixes or ()}
        },
        f"{iam5}[Resource::{schedules}]": (
            "One-shot step schedules, named per pool at run time, only inside warmpool's own group"
        ),
        "AwsSolutions::AwsSolutions-SMG4": (
            "Slack issues the webhook URLs and the signing secret; a Lambda cannot rotate them. "
            "Rotate them in Slack, then update the secret."
        ),
        "AwsSolutions::AwsSolutions-APIG4": (
            "Slack cannot send AWS credentials: each request is authenticated by its Slack signature (HMAC "
            "of the raw body, 5-minute replay window) inside the function, then authorized against the policy"
        ),
    }


class WarmPoolStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, app_dir: Path) -> None:
        super().__init__(
            scope, construct_id, description="warmpool: lifecycle manager for SageMaker warm pools"
        )
        self.config = config
        self.manager = WarmPoolManager(self, "WarmPool", config=config, app_dir=app_dir)
        cdk.Validations.of(self).acknowledge(
            *(
                cdk.Acknowledgment(id=rule, reason=reason)
                for rule, reason in nag_acknowledgments(self, self.manager, config).items()
            )
        )
        for construct, rule, reason in serverless_acknowledgments(self.manager):
            cdk.Validations.of(construct).acknowledge(
                cdk.Acknowledgment(id=f"Serverless::{rule}", reason=reason)
            )


def serverless_acknowledgments(manager: WarmPoolManager) -> list[tuple[Construct, str, str]]:
    """The cdk-nag Serverless findings warmpool accepts, each on the one construct it concerns."""
    storage, lifecycle, notifications = manager.storage, manager.lifecycle, manager.notifications
    no_data = "a failed reconciler run carries no data: it is retried twice, then the next run replaces it"
    sqs_fed = "Invoked only by SQS, whose redrive policy keeps the records that keep failing"
    no_destination = "SQS event sources take no on-failure destination: the queue's redrive policy applies"
    end_of_line = "A dead-letter queue is the end of the line, alarmed on depth"
    found: list[tuple[Construct, str, str]] = [
        (storage.lifecycle_dlq, "Serverless-SQSRedrivePolicy", end_of_line),
        (storage.notify_dlq, "Serverless-SQSRedrivePolicy", end_of_line),
        (lifecycle.reconcile_rule, "Serverless-EventBusDLQ", f"The schedule carries no data: {no_data}"),
        (lifecycle.reconciler_fn, "Serverless-LambdaDLQ", f"Invoked on a schedule: {no_data}"),
        (lifecycle.lifecycle_fn, "Serverless-LambdaDLQ", sqs_fed),
        (notifications.notifier_fn, "Serverless-LambdaDLQ", sqs_fed),
        (lifecycle.lifecycle_fn, "Serverless-LambdaEventSourceMappingDestination", no_destination),
        (notifications.notifier_fn, "Serverless-LambdaEventSourceMappingDestination", no_destination),
    ]
    if manager.monitoring.alarm_email_subscription is not None:  # `alarm_email`, when set
        found.append(
            (
                manager.monitoring.alarm_email_subscription,
                "Serverless-SNSRedrivePolicy",
                "An email SNS could not deliver in 6 hours is a copy of an alarm whose state change "
                "CloudWatch keeps in its history, and the AlarmTopic's other subscribers get it; a DLQ of "
                "undelivered alarm emails could alarm only to the same address",
            )
        )
    if notifications.slack_fn is not None:  # the Slack endpoint is optional (slack_endpoint: none)
        found.append(
            (
                notifications.slack_fn,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by the HTTP API or its function URL (slack_endpoint)",
            )
        )
    if notifications.presses_fn is not None and notifications.press_dlq is not None:
        found += [
            (notifications.press_dlq, "Serverless-SQSRedrivePolicy", end_of_line),
            (notifications.presses_fn, "Serverless-LambdaDLQ", sqs_fed),
            (notifications.presses_fn, "Serverless-LambdaEventSourceMappingDestination", no_destination),
        ]
    return found
