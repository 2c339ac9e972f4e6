"""`WarmPoolManager`: the whole of warmpool as one construct, reusable in any CDK app."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Stack, Token
from aws_cdk import aws_ssm as ssm
from constructs import Construct
from warmpool.domain.policy import deployable, load_policy_file
from warmpool.domain.policy.document import STANDARD_PARAMETER_BYTES

from infra.config import (
    ConfigError,
    StackConfig,
    reserved_concurrency_warnings,
    shared_account_warnings,
    stack_name_problem,
)
from infra.constants import LAMBDA_SOURCE_DIR
from infra.constructs.functions import FunctionFactory
from infra.constructs.lifecycle import Lifecycle
from infra.constructs.monitoring import Monitoring
from infra.constructs.notifications import Notifications
from infra.constructs.storage import Storage
from infra.packaging import lambda_code


class WarmPoolManager(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, app_dir: Path) -> None:
        super().__init__(scope, construct_id)
        # In an app of your own, the stack's name is yours, not `stack_name`: it names the step schedules'
        # group all the same, which a name too long would fail half-way through the deploy.
        stack_name = Stack.of(self).stack_name
        if not Token.is_unresolved(stack_name) and (problem := stack_name_problem(stack_name)):
            raise ConfigError([f"WarmPoolManager in stack {stack_name}: {problem}"])
        # Two stacks in one account (docs/deploy.md): what this one shares with the other unless told
        for warning in shared_account_warnings(config, stack_name):
            key = warning.split(":", 1)[0]
            Annotations.of(self).add_warning_v2(f"{key}:shared-with-another-stack", warning)
        # A reservation above an account's default limit deploys only where the limit was raised
        for warning in reserved_concurrency_warnings(config):
            key = warning.split(":", 1)[0]
            Annotations.of(self).add_warning_v2(f"{key}:above-the-default-account-limit", warning)
        # An invalid policy fails synth here, with every problem named by its path and fix; so does one
        # over the advanced parameter's limit, which would fail the deploy half-way.
        path = app_dir / config.policy_file
        policy = deployable(load_policy_file(path), str(path))
        policy_json = policy.deployed_json()
        # SSM counts bytes: a policy of fewer characters than the limit, but with names like jürgen,
        # may need the advanced tier.
        size = len(policy_json.encode())
        self.policy_parameter = ssm.StringParameter(
            self,
            "Policy",
            description="warmpool policy document (JSON, validated at synth)",
            string_value=policy_json,
            tier=ssm.ParameterTier.ADVANCED
            if size > STANDARD_PARAMETER_BYTES
            else ssm.ParameterTier.STANDARD,
        )
        self.storage = Storage(self, "Storage")
        self.functions = FunctionFactory(
            self,
            "Functions",
            code=lambda_code(app_dir / LAMBDA_SOURCE_DIR),
            log_retention_days=config.log_retention_days,
            metrics_service=config.metrics_service,
        )
        self.lifecycle = Lifecycle(
            self,
            "Lifecycle",
            config=config,
            storage=self.storage,
            factory=self.functions,
            policy=self.policy_parameter,
        )
        self.notifications = Notifications(
            self,
            "Notifications",
            config=config,
            storage=self.storage,
            factory=self.functions,
            lifecycle=self.lifecycle,
            policy=self.policy_parameter,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            storage=self.storage,
            functions=list(self.functions.functions.values()),
            alarm_email=config.alarm_email,
            metrics_service=config.metrics_service,
            press_dlq=self.notifications.press_dlq,
        )
