"""Powertools Logger and Metrics, built on first use (never at import time)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools import Metrics as PowertoolsMetricsClient

SERVICE = "warmpool"
NAMESPACE = "WarmPool"


@cache
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


@cache
def metrics_client() -> PowertoolsMetricsClient:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


class PowertoolsMetrics:
    """The Metrics port on Powertools EMF; flushed by `flush()` at the end of each invocation."""

    def count(self, name: str, value: float = 1, unit: str = "Count") -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics_client().add_metric(name=name, unit=MetricUnit(unit), value=value)

    def flush(self) -> None:
        client = metrics_client()
        if client.metric_set:  # an invocation that counted nothing publishes nothing
            client.flush_metrics()
