"""A Python Lambda function as warmpool builds them all: one asset, the Powertools layer, JSON logs."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constants import METRICS_NAMESPACE, POWERTOOLS_LAYER_PARAMETER

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


_RETENTION_NAMES = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


def log_retention(days: int) -> logs.RetentionDays:
    """The retention of `log_retention_days`, which StackConfig has checked is one CloudWatch accepts."""
    retention: logs.RetentionDays = getattr(logs.RetentionDays, _RETENTION_NAMES[days])
    return retention


class FunctionFactory(Construct):
    """Builds every function from the same code asset and layer."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        log_retention_days: int,
        metrics_service: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.code = code
        self.log_retention_days = log_retention_days
        # the `service` dimension of every metric the functions publish (and their logs' `service`)
        self.metrics_service = metrics_service
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self, POWERTOOLS_LAYER_PARAMETER.format(arch="arm64", python=RUNTIME.name)
        )
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", layer_arn)
        self.functions: dict[str, lambda_.Function] = {}

    def function(
        self,
        name: str,
        *,
        handler: str,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_mb: int = 512,
        reserved_concurrency: int | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name}Logs", retention=log_retention(self.log_retention_days))
        fn = lambda_.Function(
            self,
            name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=self.code,
            layers=[self.powertools],
            timeout=timeout,
            memory_size=memory_mb,
            reserved_concurrent_executions=reserved_concurrency,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": self.metrics_service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **environment,
            },
        )
        self.functions[name] = fn
        return fn
