import json
from datetime import UTC, datetime
from typing import Any

from warmpool.domain.codec import (
    decision_from_json,
    notification_from_json,
    notification_to_json,
    pool_from_json,
    pool_to_json,
)
from warmpool.domain.messages import render
from warmpool.domain.model import (
    LINEAGE_KEPT,
    Action,
    BudgetFigures,
    Decision,
    MatchKey,
    Notification,
    NotificationKind,
    Pool,
    Severity,
    WarmPoolStatus,
    extend_lineage,
)


def test_notification_survives_the_queue() -> None:
    decision = Decision(
        action=Action.EXTEND,
        keep_alive_seconds=3600,
        horizon_seconds=7200,
        next_check_at=datetime(2026, 3, 2, 11, 55, tzinfo=UTC),
        rule="teams.vision.keep_alive",
        reasons=("the team iterates every 20 minutes",),
        notify=(NotificationKind.EXTENDED,),
        promised_until=datetime(2026, 3, 2, 12, 30, tzinfo=UTC),  # a person's extension granted in part
        asked_until=datetime(2026, 3, 2, 13, 0, tzinfo=UTC),  # of the time they asked for
    )
    sent = Notification(
        kind=NotificationKind.EXTENDED,
        severity=Severity.INFO,
        pool_id="train-1",
        job_name="train-2",
        version=4,
        team="vision",
        owner="alice",
        facts={"warm_until": "2026-03-02T12:00:00+00:00", "instances": 2},
        decision=decision,
    )
    received = notification_from_json(notification_to_json(sent))
    assert received == sent
    assert received.dedupe_key == "train-1#extended#4"


def test_a_budget_warning_keeps_its_figures_and_one_queued_without_them_still_reads() -> None:
    """The decision carries the budget that held the pool short through the queue (and the registry:
    the same JSON); a decision saved, or a warning queued, by an earlier version has none."""
    decision = Decision(
        action=Action.SHORTEN,
        keep_alive_seconds=1400,
        horizon_seconds=1400,
        next_check_at=None,
        rule="defaults.budget.daily_usd",
        reasons=("the team's daily idle budget has $1.40 left",),
        notify=(NotificationKind.BUDGET_WARNING,),
        budget=BudgetFigures("day", 5.0, 3.6),
    )
    sent = Notification(
        NotificationKind.BUDGET_WARNING, Severity.WARNING, "b-2", "b-2", 2, "vision", "alice", {}, decision
    )
    assert notification_from_json(notification_to_json(sent)) == sent
    assert decision_from_json(decision.to_json()) == decision

    queued = json.loads(notification_to_json(sent))
    del queued["decision"]["budget"]  # as an earlier version wrote it
    old = notification_from_json(json.dumps(queued))
    assert old.decision is not None
    assert old.decision.budget is None
    assert "Spent" not in render(old).text  # no figures to say: the rest of the warning is said
    assert "daily idle budget has $1.40 left" in render(old).text


def test_gaps_keep_the_job_duration_and_read_the_older_three_field_form() -> None:
    from warmpool.domain.codec import gap_from_json, gap_to_json
    from warmpool.domain.model import IdleGap

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    gap = IdleGap(at, 120.0, True, 1800.0)
    assert gap_to_json(gap) == [at.isoformat(), 120.0, 1, 1800]
    assert gap_from_json(gap_to_json(gap)) == gap
    assert gap_from_json([at.isoformat(), 60.0, 0]) == IdleGap(at, 60.0, False, None)


def test_gaps_keep_their_context_and_read_the_older_four_field_form() -> None:
    from warmpool.domain.codec import gap_from_json, gap_to_json
    from warmpool.domain.model import IdleGap

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    gap = IdleGap(at, 120.0, True, 1800.0, running_jobs=2, known_gaps=17)
    assert gap_to_json(gap) == [at.isoformat(), 120.0, 1, 1800, 2, 17]
    assert gap_from_json(gap_to_json(gap)) == gap
    no_duration = IdleGap(at, 120.0, False, None, running_jobs=0, known_gaps=0)
    assert gap_to_json(no_duration) == [at.isoformat(), 120.0, 0, None, 0, 0]
    assert gap_from_json(gap_to_json(no_duration)) == no_duration
    assert gap_from_json([at.isoformat(), 60.0, 1, 900]) == IdleGap(at, 60.0, True, 900.0, None, None)


def test_gaps_keep_their_identity_and_read_the_older_six_field_form() -> None:
    from warmpool.domain.codec import gap_from_json, gap_to_json
    from warmpool.domain.model import IdleGap

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    gap = IdleGap(at, 120.0, True, None, None, None, job_name="train-7")
    assert gap_to_json(gap) == [at.isoformat(), 120.0, 1, None, None, None, "train-7"]
    assert gap_from_json(gap_to_json(gap)) == gap
    older = [at.isoformat(), 120.0, 1, 1800, 2, 17]
    assert gap_from_json(older) == IdleGap(at, 120.0, True, 1800.0, 2, 17, job_name=None)


def available_pool(pool_id: str = "p", job_name: str = "p", **fields: Any) -> Pool:
    return Pool(
        pool_id=pool_id,
        job_name=job_name,
        job_arn="",
        match_key=MatchKey("arn:aws:iam::123456789012:role/r", "ml.g5.2xlarge", 1, 50),
        status=WarmPoolStatus.AVAILABLE,
        **fields,
    )


def test_a_pool_record_keeps_the_context_its_gap_began_in() -> None:
    pool = available_pool(running_at_idle=1, known_gaps_at_idle=12)
    assert pool_from_json(pool_to_json(pool)) == pool
    older = {k: v for k, v in pool_to_json(pool).items() if not k.endswith("_at_idle")}
    assert pool_from_json(older).running_at_idle is None


def test_a_long_lineage_keeps_its_first_and_latest_jobs_and_counts_them_all() -> None:
    lineage: tuple[str, ...] = ("job-0",)
    for n in range(1, 1000):
        lineage = extend_lineage(lineage, f"job-{n}")
    assert len(lineage) == LINEAGE_KEPT
    assert lineage[0] == "job-0"  # the pool's id
    assert lineage[1:] == tuple(f"job-{n}" for n in range(1000 - LINEAGE_KEPT + 1, 1000))
    pool = available_pool("job-0", "job-999", lineage=lineage, lineage_jobs=1000)
    assert pool_from_json(pool_to_json(pool)) == pool
    older = {k: v for k, v in pool_to_json(pool).items() if k != "lineage_jobs"}
    assert pool_from_json(older).lineage_jobs == LINEAGE_KEPT  # written before the count: what it lists
