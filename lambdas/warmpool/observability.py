"""Powertools Logger and Metrics, built on first use (never at import time)."""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import IO, TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aws_lambda_powertools import Logger
    from aws_lambda_powertools import Metrics as PowertoolsMetricsClient

SERVICE = "warmpool"
NAMESPACE = "WarmPool"


def service() -> str:
    """The `service` of the metrics' dimension and of the log lines: the stack's `metrics_service`, which
    it sets as POWERTOOLS_SERVICE_NAME (two stacks in one account each publish under their own, which
    their own alarms watch), else `warmpool`."""
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE


@cache
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    # a StreamHandler only writes and flushes its stream: _Stdout is all of IO[str] it needs
    return Logger(service=service(), stream=cast("IO[str]", _Stdout()))


class _Stdout:
    """Standard output as it is when a line is logged, not as it was when the logger was made: the same
    in Lambda, where it never changes; where it is swapped (a test capturing what one invocation prints,
    the local demo), the log goes where the metrics' EMF lines go, not to a stream closed since."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def log_sweep_pools_deferred(pools: Iterable[str]) -> None:
    """Each pool of an ended sweep that a look could not hand back with the others ("<job>: <error>",
    SweepPoolsDeferred): nothing is lost, the reconciler's next run hands them back, but on-call sees
    which and why. Said by each function whose looks may find a sweep ended."""
    for deferred in pools:
        logger().warning(
            "sweep pool not handed back, left to the reconciler's next run", extra={"pool": deferred}
        )


@cache
def metrics_client() -> PowertoolsMetricsClient:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=service())


class PowertoolsMetrics:
    """The Metrics port on Powertools EMF; flushed by `flush()` at the end of each invocation."""

    def count(self, name: str, value: float = 1, unit: str = "Count") -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics_client().add_metric(name=name, unit=MetricUnit(unit), value=value)

    def flush(self) -> None:
        client = metrics_client()
        if client.metric_set:  # an invocation that counted nothing publishes nothing
            client.flush_metrics()
