"""Events in, keep-alive out: EventBridge rules, the lifecycle and reconciler functions, Scheduler."""

from __future__ import annotations

import jsii
from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_ssm as ssm
from aws_cdk.interfaces import aws_events as rule_interfaces
from constructs import Construct
from warmpool.models.events import KEEP_ALIVE_CALL_DETAIL_TYPE, rule_patterns

from infra.config import SCHEDULE_GROUP_SUFFIX, StackConfig
from infra.constants import (
    LAMBDA_HANDLERS,
    LIFECYCLE_BATCH_SIZE,
    LIFECYCLE_TIMEOUT_SECONDS,
    MATCH_INDEX,
    RECONCILER_TIMEOUT_SECONDS,
    STATUS_INDEX,
    TEAM_INDEX,
    TRAINING_DETAIL_TYPE,
    TUNING_DETAIL_TYPE,
    TYPE_INDEX,
)
from infra.constructs.functions import FunctionFactory
from infra.constructs.grants import consume_queue, read_policy_parameter, send_to_queue, use_table_key
from infra.constructs.storage import Storage

EVENTS = "events.amazonaws.com"
# The registry's indexes the engine queries (warmpool.adapters.registry): granted by name, not `index/*`
REGISTRY_INDEXES = (STATUS_INDEX, MATCH_INDEX, TEAM_INDEX, TYPE_INDEX)


def updatable_training_jobs(stack: Stack, job_name_prefixes: tuple[str, ...] | None) -> list[str]:
    """The training jobs the engine may update: every job of the account, or with `job_name_prefixes` only
    those whose names begin with them (the other stack's jobs are the other stack's role's to update).
    SageMaker writes a training job's ARN with its name in lower case, which IAM matches as written."""
    names = [f"{prefix.lower()}*" for prefix in dict.fromkeys(job_name_prefixes or ("",))]
    return [
        stack.format_arn(service="sagemaker", resource="training-job", resource_name=name) for name in names
    ]


@jsii.implements(events.IRuleTarget)
class _LifecycleQueueTarget:
    """The lifecycle queue as a rule's target, granted only what EventBridge needs.

    An event EventBridge cannot deliver (a queue or key permission broken by hand, say) is retried for a
    day, then kept in the lifecycle DLQ, whose depth alarms, instead of being dropped. The CDK's own
    `SqsQueue` target grants EventBridge `GetQueueUrl` and `GetQueueAttributes` besides `SendMessage`
    (from any rule of the account), and `Encrypt` and `ReEncrypt*` of the key besides what SQS asks of
    a sender's key: a data key and `Decrypt` (the key's statement is in `Lifecycle`)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def bind(
        self,
        rule: rule_interfaces.IRuleRef,
        id: str | None = None,
    ) -> events.RuleTargetConfig:
        for queue in (self.storage.lifecycle_queue, self.storage.lifecycle_dlq):
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(EVENTS)],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule.rule_ref.rule_arn}},
                )
            )
        return events.RuleTargetConfig(
            arn=self.storage.lifecycle_queue.queue_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self.storage.lifecycle_dlq.queue_arn
            ),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=int(Duration.hours(24).to_seconds()),
                maximum_retry_attempts=185,
            ),
            target_resource=self.storage.lifecycle_queue,
        )


def _events_may_use_the_key(storage: Storage) -> None:
    """What SQS asks of the key for EventBridge's messages to the lifecycle queue and its DLQ (the SQS and
    EventBridge guides: `GenerateDataKey` and `Decrypt`), from this account's rules only. The rules' own
    ARNs would make a cycle (a rule targets the queue, which the key encrypts)."""
    storage.key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EventBridgeRulesToEncryptedQueues",
            principals=[iam.ServicePrincipal(EVENTS)],
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"],  # a key policy's resource is the key itself
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )


class Lifecycle(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        factory: FunctionFactory,
        policy: ssm.IStringParameter,
    ) -> None:
        super().__init__(scope, construct_id)
        # The job events' rules filter on source and detail-type only, and with `job_name_prefixes` on the
        # job's name: every decision is made in code.
        patterns = rule_patterns(config.job_name_prefixes or ())
        self.training_rule, self.tuning_rule = (
            events.Rule(
                self,
                rule_id,
                event_pattern=events.EventPattern(
                    source=patterns[detail_type]["source"],
                    detail_type=patterns[detail_type]["detail-type"],
                    detail=patterns[detail_type].get("detail"),
                ),
                targets=[_LifecycleQueueTarget(storage)],
            )
            for rule_id, detail_type in (
                ("TrainingJobEvents", TRAINING_DETAIL_TYPE),
                ("TuningJobEvents", TUNING_DETAIL_TYPE),
            )
        )
        # CloudTrail's record of each successful UpdateTrainingJob: a keep-alive set outside warmpool is
        # looked at when it is set, not at the pool's next look (a trail logging management events
        # must deliver it: without one the rule matches nothing)
        self.keep_alive_call_rule: events.Rule | None = None
        if config.watch_outside_keep_alive:
            calls = patterns[KEEP_ALIVE_CALL_DETAIL_TYPE]
            self.keep_alive_call_rule = events.Rule(
                self,
                "KeepAliveCallEvents",
                description="UpdateTrainingJob calls (CloudTrail): a keep-alive set outside warmpool",
                event_pattern=events.EventPattern(
                    source=calls["source"], detail_type=calls["detail-type"], detail=calls["detail"]
                ),
                targets=[_LifecycleQueueTarget(storage)],
            )
        _events_may_use_the_key(storage)
        self.schedule_group_name = f"{Stack.of(self).stack_name}{SCHEDULE_GROUP_SUFFIX}"
        self.schedule_group = scheduler.CfnScheduleGroup(self, "StepSchedules", name=self.schedule_group_name)
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            # only for the schedules of warmpool's own group (EventBridge Scheduler names the group as
            # the source): another group's schedule could not send the engine steps with it
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="scheduler",
                            resource="schedule-group",
                            resource_name=self.schedule_group_name,
                        )
                    },
                },
            ),
            description="EventBridge Scheduler sends warmpool step-due messages to the lifecycle queue",
        )
        send_to_queue(self.scheduler_role, storage.lifecycle_queue)

        engine_env = {
            "POOLS_TABLE_NAME": storage.pools_table.table_name,
            "AUDIT_TABLE_NAME": storage.audit_table.table_name,
            "POLICY_PARAMETER_NAME": policy.parameter_name,
            "NOTIFY_QUEUE_URL": storage.notify_queue.queue_url,
            "SCHEDULER_GROUP_NAME": self.schedule_group_name,
            "SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
            "SCHEDULER_TARGET_ARN": storage.lifecycle_queue.queue_arn,
            "MAX_STEP_SECONDS": str(config.max_step_seconds),
            "STEP_MARGIN_SECONDS": str(config.step_margin_seconds),
            "MAX_LIFETIME_SECONDS": str(config.max_lifetime_days * 86400),
        }
        if config.update_requires_tag:  # the engine leaves the jobs its role may not update alone
            engine_env["UPDATE_REQUIRES_TAG"] = config.update_requires_tag
        if config.job_name_prefixes:  # the jobs this stack manages; another stack has the others
            engine_env["JOB_NAME_PREFIXES"] = ",".join(config.job_name_prefixes)
        self.engine_environment = engine_env
        for variable, value in engine_env.items():
            # What the `warmpool pools` CLI reads from its environment: each output's description is the
            # variable's name (docs/cli.md exports them in one line).
            CfnOutput(self, variable.title().replace("_", ""), value=value, description=variable)
        self.lifecycle_fn = factory.function(
            "Lifecycle",
            handler=LAMBDA_HANDLERS["lifecycle"],
            timeout=Duration.seconds(LIFECYCLE_TIMEOUT_SECONDS),
            environment={
                **engine_env,
                "IDEMPOTENCY_TABLE_NAME": storage.idempotency_table.table_name,
                "LIFECYCLE_DLQ_URL": storage.lifecycle_dlq.queue_url,
            },
        )
        consume_queue(
            self.lifecycle_fn,
            storage.lifecycle_queue,
            batch_size=LIFECYCLE_BATCH_SIZE,
            max_batching_window=Duration.seconds(5),
        )
        # Powertools' claim on each event: written, completed, released when its run fails (so that
        # SQS's retry runs it), read when a conditional write returns no item (its fallback)
        storage.idempotency_table.grant(
            self.lifecycle_fn,
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
        )
        use_table_key(self.lifecycle_fn, storage.key)
        send_to_queue(self.lifecycle_fn, storage.lifecycle_dlq)  # the events it rejects, with the reason

        self.reconciler_fn = factory.function(
            "Reconciler",
            handler=LAMBDA_HANDLERS["reconciler"],
            timeout=Duration.seconds(RECONCILER_TIMEOUT_SECONDS),
            environment=engine_env,
        )
        self.reconcile_rule = events.Rule(
            self,
            "ReconcileSchedule",
            schedule=events.Schedule.rate(Duration.minutes(config.reconcile_every_minutes)),
            targets=[targets.LambdaFunction(self.reconciler_fn, retry_attempts=2)],
        )
        # Events and steps may concern a job the registry does not know yet (its tags read); the
        # reconciler also lists jobs and checks schedules; a person's press acts on a known pool only
        # (notifications.py).
        self.grant_engine(
            self.lifecycle_fn, storage=storage, policy=policy, config=config, meets_new_jobs=True
        )
        self.grant_engine(
            self.reconciler_fn,
            storage=storage,
            policy=policy,
            config=config,
            meets_new_jobs=True,
            sweeps=True,
        )

    def grant_engine(
        self,
        fn: lambda_.IFunction,
        *,
        storage: Storage,
        policy: ssm.IStringParameter,
        config: StackConfig,
        meets_new_jobs: bool = False,
        sweeps: bool = False,
    ) -> None:
        """What the lifecycle engine needs wherever it runs: read jobs, update keep-alive (only), schedule.
        `meets_new_jobs`: it may meet a job the registry does not know (an event's, a listing's) and read
        its tags (`ListTags`); `sweeps`: it lists the jobs with pools and the running tuning jobs, and
        checks that the looks it planned are still scheduled (the reconciler)."""
        role = fn.role
        assert role is not None
        stack = Stack.of(self)
        training_jobs = stack.format_arn(service="sagemaker", resource="training-job", resource_name="*")
        tuning_jobs = stack.format_arn(
            service="sagemaker", resource="hyper-parameter-tuning-job", resource_name="*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTrainingJobs",
                actions=[
                    "sagemaker:DescribeTrainingJob",
                    *(["sagemaker:ListTags"] if meets_new_jobs else []),
                ],
                resources=[training_jobs],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                # a trial's pool is left to its running tuning job, and given back once it has ended
                sid="ReadTuningJobs",
                actions=["sagemaker:DescribeHyperParameterTuningJob"],
                resources=[tuning_jobs],
            )
        )
        if sweeps:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ListJobs",
                    # ListHyperParameterTuningJobs: the reconciler's one-off watch of the tuning jobs that
                    # ran before their pools' saves watched them (docs/registry.md)
                    actions=["sagemaker:ListTrainingJobs", "sagemaker:ListHyperParameterTuningJobs"],
                    resources=["*"],  # List APIs do not support resource-level permissions
                )
            )
        conditions = (
            {"Null": {f"aws:ResourceTag/{config.update_requires_tag}": "false"}}
            if config.update_requires_tag
            else None
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UpdateKeepAliveOnly",
                actions=["sagemaker:UpdateTrainingJob"],
                resources=updatable_training_jobs(stack, config.job_name_prefixes),
                conditions=conditions,
            )
        )
        schedules = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.schedule_group_name}/*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StepSchedules",
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:DeleteSchedule",
                    *(["scheduler:GetSchedule"] if sweeps else []),
                ],
                resources=[schedules],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassSchedulerRole", actions=["iam:PassRole"], resources=[self.scheduler_role.role_arn]
            )
        )
        # the registry: items read and written one by one or in transactions (IAM authorizes each item
        # of a TransactWriteItems as its own action), queries of the table and of its four indexes, each
        # by name (the engine queries them all: the adapter reads from `by_status` until the others are
        # backfilled); never a Scan, a batch operation or DescribeTable
        pools = storage.pools_table.table_arn
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RegistryItems",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[pools],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RegistryQueries",
                actions=["dynamodb:Query"],
                resources=[pools, *(f"{pools}/index/{index}" for index in REGISTRY_INDEXES)],
            )
        )
        # the trail is appended to and read per pool, never changed or deleted by the engine: a role
        # that may not UpdateItem, DeleteItem or BatchWriteItem cannot edit the trail away
        storage.audit_table.grant(fn, "dynamodb:PutItem", "dynamodb:Query")
        use_table_key(fn, storage.key)  # the registry and the trail are under warmpool's key
        send_to_queue(fn, storage.notify_queue)
        read_policy_parameter(fn, policy)
