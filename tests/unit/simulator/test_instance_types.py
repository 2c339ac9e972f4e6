"""`simulate --instance-type trace`: each pool priced, and decided, on its own jobs' instance type."""

import json
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main

from tests.unit.simulator import without_timing

HEADER = "submit_time_s,duration_s,pool,user,team,instance_type,instance_count"
G5 = [
    "0,600,a,ann,nlp,ml.g5.2xlarge,1",
    "900,600,a,ann,nlp,ml.g5.2xlarge,1",
    "5000,300,a,ann,nlp,ml.g5.2xlarge,1",
]
P4D = [
    "100,1200,b,bob,nlp,ml.p4d.24xlarge,2",
    "1500,600,b,bob,nlp,ml.p4d.24xlarge,2",
    "9000,300,b,bob,nlp,ml.p4d.24xlarge,2",
]
# Strategies that decide each pool on its own history alone: their cost of a mixed trace is the sum of
# each pool's cost replayed alone at its type's price.
POOL_BY_POOL = "none,fixed-600,fixed-3600,oracle,static-best"


def _trace(tmp_path: Path, name: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def _simulate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["simulate", *args, "--people-cost-per-hour", "100", "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_each_pool_costs_what_it_costs_alone_on_its_own_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = _simulate(
        capsys,
        _trace(tmp_path, "mixed.csv", [*G5, *P4D]),
        "--instance-type",
        "trace",
        "--strategies",
        POOL_BY_POOL,
    )
    g5 = _simulate(
        capsys,
        _trace(tmp_path, "g5.csv", G5),
        "--instance-type",
        "ml.g5.2xlarge",
        "--strategies",
        POOL_BY_POOL,
    )
    p4d = _simulate(
        capsys,
        _trace(tmp_path, "p4d.csv", P4D),
        "--instance-type",
        "ml.p4d.24xlarge",
        "--strategies",
        POOL_BY_POOL,
    )
    for strategy in POOL_BY_POOL.split(","):
        alone = [g5["results"][strategy], p4d["results"][strategy]]
        row = mixed["results"][strategy]
        assert row["total_cost_usd"] == pytest.approx(sum(r["total_cost_usd"] for r in alone), abs=1e-3), (
            strategy
        )
        assert row["cold_starts"] == sum(r["cold_starts"] for r in alone), strategy
        assert row["warm_starts"] == sum(r["warm_starts"] for r in alone), strategy
    # By hand: keeping nothing, every job starts cold and costs 130 s of its cluster and of a person:
    # 3 x 130 x (1.515 + 100) / 3600 on g5 and 3 x 130 x (2 x 37.688 + 100) / 3600 on p4d.
    assert mixed["results"]["none"]["total_cost_usd"] == pytest.approx(10.9975 + 18.9991, abs=1e-3)
    scenario = mixed["scenario"]
    assert scenario["instance_type"] == "trace"
    assert scenario["price_per_hour"] is None
    assert scenario["prices_per_hour"] == {"ml.g5.2xlarge": 1.515, "ml.p4d.24xlarge": 37.688}
    assert scenario["pools_per_instance_type"] == {"ml.g5.2xlarge": 1, "ml.p4d.24xlarge": 1}


def test_the_policy_decides_each_pool_on_its_own_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nprices:\n  ml.p4d.24xlarge: 20.0\ndefaults:\n  denied_instance_types: ['ml.p4d.*']\n",
        encoding="utf-8",
    )
    trace = _trace(tmp_path, "mixed.csv", [*G5, *P4D])
    report = _simulate(
        capsys,
        trace,
        "--instance-type",
        "trace",
        "--policy",
        str(policy),
        "--strategies",
        "fixed-3600,oracle",
    )
    kept = report["results"]["fixed-3600"]
    # The g5 pool is kept and its second job starts warm; p4d is denied, so its pools are released at once.
    assert (kept["warm_starts"], kept["cold_starts"]) == (2, 4)
    assert report["scenario"]["prices_per_hour"] == {"ml.g5.2xlarge": 1.515, "ml.p4d.24xlarge": 20.0}


def test_one_type_is_priced_from_the_policy_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nprices:\n  ml.x9.huge: 7.2\n", encoding="utf-8")
    trace = _trace(tmp_path, "g5.csv", G5)
    report = _simulate(
        capsys, trace, "--instance-type", "ml.x9.huge", "--policy", str(policy), "--strategies", "none"
    )
    assert report["scenario"]["price_per_hour"] == 7.2
    # 3 cold starts x 130 s x (7.2 + 100) USD/h
    assert report["results"]["none"]["total_cost_usd"] == pytest.approx(3 * 130 * 107.2 / 3600, abs=1e-3)


@pytest.mark.parametrize(
    ("rows", "flags", "message"),
    [
        (
            [*G5, "2000,60,b,bob,nlp,ml.x9.huge,2"],
            [],
            "t.csv:5: no price known for instance type 'ml.x9.huge': add it under `prices` in the policy "
            "document (USD per instance-hour)\n",
        ),
        (
            [*G5[:2], "5000,300,a,ann,nlp,ml.g5.xlarge,1"],
            [],
            "t.csv:4: pool 'a' has instance type ml.g5.xlarge here but ml.g5.2xlarge at line 2; a warm pool "
            "has one instance type",
        ),
        (
            [*G5[:2], "5000,300,a,ann,nlp,,1"],
            [],
            "t.csv:4: column 'instance_type' is empty; with --instance-type trace every job is priced at its "
            "own type",
        ),
        (
            G5,
            ["--price-per-hour", "3"],
            "--price-per-hour prices one instance type; with --instance-type trace",
        ),
    ],
    ids=["unknown-type", "two-types-in-a-pool", "no-type", "one-price"],
)
def test_a_trace_that_cannot_be_priced_per_job_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], flags: list[str], message: str
) -> None:
    trace = _trace(tmp_path, "t.csv", rows)
    assert main(["simulate", trace, "--instance-type", "trace", *flags]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_a_policy_with_warm_pool_quotas_simulates_as_one_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quota warning is the platform admins' notice, not a rule: the simulator, which ignores
    notifications, decides the same pools alike under a policy that states quotas."""
    trace = _trace(tmp_path, "mixed.csv", [*G5, *P4D])
    results = []
    for extra in ("", "warm_pool_quotas:\n  ml.g5.2xlarge: 1\n  ml.p4d.24xlarge: 1\nquota_warning_at: 0.5\n"):
        policy = tmp_path / "policy.yaml"
        policy.write_text(f"version: 1\n{extra}", encoding="utf-8")
        args = ("--instance-type", "trace", "--policy", str(policy), "--strategies", "fixed-3600")
        results.append(without_timing(_simulate(capsys, trace, *args)["results"]))
    assert results[0] == results[1]
    assert results[1]["fixed-3600"]["warm_starts"] > 0  # pools were kept, over the quotas stated
