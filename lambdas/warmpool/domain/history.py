"""The idle-gap histories the adaptive strategy learns from, kept the same way by the registry (in
DynamoDB) and by the trace simulator (in memory)."""

from __future__ import annotations

from datetime import datetime

from warmpool.domain.model import IdleGap


def uncensor_latest(gaps: list[IdleGap], at: datetime) -> bool:
    """A matching job started cold at `at`: the most recently started gap that was cut short (expired
    or released, a censored observation) would have been reused then, had the pool been kept. Turn it
    into an observed gap of that length, in place. Each cold start answers for one released pool, so
    a burst of cold starts answers for as many released pools. Returns whether a gap changed."""
    latest: int | None = None
    for index, gap in enumerate(gaps):
        if gap.reused or (at - gap.started_at).total_seconds() < gap.seconds:
            continue
        if latest is None or gap.started_at >= gaps[latest].started_at:
            latest = index
    if latest is None:
        return False
    gap = gaps[latest]
    gaps[latest] = IdleGap(gap.started_at, (at - gap.started_at).total_seconds(), True, gap.job_duration_s)
    return True
