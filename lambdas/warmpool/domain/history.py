"""The idle-gap histories the adaptive strategy learns from, kept the same way by the registry (in
DynamoDB) and by the trace simulator (in memory)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from warmpool.domain.model import IdleGap

# The latest gaps a history keeps (of a match key, of a team): what a decision learns from
HISTORY_LIMIT = 64


def add_once(gaps: list[IdleGap], gap: IdleGap) -> bool:
    """Append `gap`, in place, unless the history holds it already: a gap with the same identity (the
    job whose end began it), as an event processed again after a failure, or the same idle period
    reached by two paths (a successor adopted at its first event and joined at its predecessor's),
    would record it twice. The one on record stays: it may have been uncensored since by a cold start.
    A gap without an identity (recorded before gaps had one) is always appended. Returns whether it
    was."""
    if gap.job_name is not None and any(known.job_name == gap.job_name for known in gaps):
        return False
    gaps.append(gap)
    return True


def uncensor_latest(gaps: list[IdleGap], at: datetime) -> bool:
    """A matching job started cold at `at`: the most recently started gap that was cut short (expired
    or released, a censored observation) would have been reused then, had the pool been kept. Turn it
    into an observed gap of that length, in place. Each cold start answers for one released pool, so
    a burst of cold starts answers for as many released pools. Returns whether a gap changed."""
    return uncensor(gaps, at) is not None


def uncensor(gaps: list[IdleGap], at: datetime) -> IdleGap | None:
    """`uncensor_latest`, returning the gap as it was before (what `undo_uncensor` puts back), or None
    when no gap changed."""
    # Newest first: a gap that began no later than the one found cannot be it (of gaps that began at
    # the same moment, the later in the list is), and is passed over without its length read.
    latest: int | None = None
    latest_start: datetime | None = None
    for index in range(len(gaps) - 1, -1, -1):
        gap = gaps[index]
        if gap.reused or (latest_start is not None and gap.started_at <= latest_start):
            continue
        if (at - gap.started_at).total_seconds() < gap.seconds:
            continue
        latest, latest_start = index, gap.started_at
    if latest is None:
        return None
    gap = gaps[latest]
    # Which released pool a cold start answers for is a guess that favours the last to go idle, the one
    # with the fewest jobs still running and the most gaps on record: those counts are left out, or the
    # learner would learn the guess's own bias.
    seconds = (at - gap.started_at).total_seconds()
    gaps[latest] = replace(gap, seconds=seconds, reused=True, running_jobs=None, known_gaps=None)
    return gap


def undo_uncensor(gaps: list[IdleGap], original: IdleGap, at: datetime) -> bool:
    """The job seen starting cold at `at` had taken a warm pool after all: put back the gap that
    `uncensor(gaps, at)` turned from `original` into an observed one, in place. Returns whether it was
    found (a gap since dropped from the bounded history is not)."""
    observed = round((at - original.started_at).total_seconds(), 1)
    for index, gap in enumerate(gaps):
        if (
            gap.reused
            and gap.started_at == original.started_at
            and round(gap.seconds, 1) == observed
            and gap.job_duration_s == original.job_duration_s
            and gap.job_name == original.job_name
        ):
            gaps[index] = original
            return True
    return False


@dataclass(frozen=True, slots=True)
class ColdStart:
    """A job taken as a cold start at `at`, with the gap its cold start uncensored, as it was before
    (None: it found no released pool to answer for), or `undone`: it turned out to have taken a warm
    pool, and answers for nothing."""

    job_name: str
    at: datetime
    gap: IdleGap | None
    undone: bool = False


def retract_cold_start(
    gaps: list[IdleGap], taken: list[ColdStart], job_name: str
) -> tuple[bool, list[ColdStart]]:
    """`job_name`, one of the cold starts `taken`, took a warm pool after all: put back, in place, the
    gap its cold start uncensored, and let the cold starts taken after it answer again as if it had
    never come: each takes the latest gap then censored, which may be the one put back (a later one
    that found none, because this one had taken it, now gets it). Returns whether the gap was put back,
    and those later cold starts as they now stand. A later one whose gap has left the bounded history
    is left as it is."""
    mine = next((c for c in taken if c.job_name == job_name), None)
    if mine is None or mine.gap is None or mine.undone:
        return False, []
    later = sorted((c for c in taken if not c.undone and c.at > mine.at), key=lambda c: c.at)
    unwound = [c for c in reversed(later) if c.gap is None or undo_uncensor(gaps, c.gap, c.at)]
    put_back = undo_uncensor(gaps, mine.gap, mine.at)
    return put_back, [replace(c, gap=uncensor(gaps, c.at)) for c in reversed(unwound)]
