"""Reconciler Lambda (EventBridge schedule): repairs drift between SageMaker and the registry."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

# Of the run's time, kept for what ends it (the listing of the pools InUse, the digests, its report):
# within it, a call that fails is not tried again, nor a service that keeps failing called again.
RESERVE_SECONDS = 30.0

if TYPE_CHECKING:
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.lifecycle import LifecycleService


@cache
def runtime() -> tuple[LifecycleService, PowertoolsMetrics]:
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.wiring import build_lifecycle_service
    from warmpool.settings import ReconcilerSettings

    metrics = PowertoolsMetrics()
    return build_lifecycle_service(ReconcilerSettings.from_env(), metrics=metrics), metrics


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from warmpool.observability import logger
    from warmpool.service.wiring import INVOCATION

    service, metrics = runtime()
    # a throttled call is not tried again past the function's timeout: the run ends, its log and
    # ReconcilerFailures naming the pools it could not repair, which the next run tries again. A phase
    # that fails (SageMaker throttling ListTrainingJobs) is named likewise, the others going on; the
    # run fails as a whole (ReconcilerErrors) only when it could do nothing
    INVOCATION.start(context, reserve=RESERVE_SECONDS)
    try:
        report = service.reconcile()
    finally:
        INVOCATION.end()
        metrics.flush()
    result = {
        "available_in_sagemaker": report.available_in_sagemaker,
        "available_in_registry": report.available_in_registry,
        "repaired": report.repaired,
        "rescheduled": report.rescheduled,
        "phantoms": report.phantoms,
        "tuning_watches": report.tuning_watches,
        "digests": report.digests,
        "tuning_notices": report.tuning_notices,
        "after_dry_run": report.after_dry_run,
        "failed": report.failed,
        "phases_failed": report.phases_failed,
        "sweep_pools_deferred": report.sweep_pools_deferred,
    }
    if report.failed:
        logger().error("reconciled, some pools could not be repaired", extra=result)
    elif report.sweep_pools_deferred:  # left to the tuner: the next run hands them back
        logger().warning("reconciled, some pools of an ended sweep are left to the next run", extra=result)
    else:
        logger().info("reconciled", extra=result)
    return result
