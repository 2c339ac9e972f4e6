"""`warmpool trace export`: the account's own jobs, from ListTrainingJobs and DescribeTrainingJob on moto
with the warm-pool emulator, as a trace `warmpool simulate` replays."""

import csv
import io
import json
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System


@pytest.fixture
def account(system: System) -> System:
    """Three finished jobs in two shapes, a spot job and one still running."""
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "none"}})
    # each runs for its start-up (150 s cold) and then trains: 300, 200 and 100 s
    system.run_job("e-1", 450, tags={"team": "vision", "owner": "alice"})
    system.advance(600)
    system.run_job("e-2", 350, tags={"team": "vision", "owner": "bob"})
    system.run_job("e-3", 250, instance_type="ml.g5.xlarge", tags={"team": "nlp"})
    system.run_job("e-spot", 250, spot=True, keep_alive_seconds=None)
    system.sagemaker.create_training_job(**training_job_request("e-running"))
    system.advance(60)
    return system


def test_finished_jobs_become_a_trace_that_simulate_replays(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "mine.csv"
    capsys.readouterr()
    assert main(["trace", "export", "--days", "1", "--out", str(trace)]) == 0
    said = capsys.readouterr().err
    with trace.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["job_name"] for r in rows] == ["e-1", "e-2", "e-3"]
    first, second, third = rows
    # e-1 and e-2 could take each other's warm pool; e-3's instance type differs
    assert first["pool"] == second["pool"] != third["pool"]
    assert [(r["team"], r["user"]) for r in rows] == [("vision", "alice"), ("vision", "bob"), ("nlp", "")]
    # from each job's creation (its submit_time_s) to its TrainingEndTime: its start-up (150 s cold) and
    # its training, so the replay frees its cluster when the job ended
    assert [float(r["duration_s"]) for r in rows] == [450, 350, 250]
    described = {
        name: account.sagemaker.describe_training_job(TrainingJobName=name) for name in ("e-1", "e-2")
    }
    held = described["e-1"]["TrainingEndTime"] - described["e-1"]["CreationTime"]
    assert held.total_seconds() == 450
    created = {name: job["CreationTime"] for name, job in described.items()}
    assert float(first["submit_time_s"]) == 0
    assert float(second["submit_time_s"]) == (created["e-2"] - created["e-1"]).total_seconds() > 600
    assert {r["status"] for r in rows} == {"Completed"}
    assert first["submitted_at"] == created["e-1"].isoformat()
    # warmpool ("none") released e-1's pool, whose keep-alive then reads 0; written 0, the replay took e-1
    # for a job created without a warm pool, and the oracle could not keep it for e-2 (0 warm starts)
    assert [r["keep_alive_s"] for r in rows] == ["", "", ""]
    assert "3 jobs in 2 pools" in said
    assert "left out: 1 managed spot (no warm pools), 1 still running" in said
    assert f"warmpool simulate {trace} --instance-type trace --start {first['submitted_at']}" in said

    one_at_a_time = tmp_path / "one.csv"
    assert main(["trace", "export", "--days", "1", "--out", str(one_at_a_time), "--workers", "1"]) == 0
    assert one_at_a_time.read_text() == trace.read_text()  # described side by side, written in order
    capsys.readouterr()

    replay = [
        "simulate",
        str(trace),
        "--instance-type",
        "trace",
        "--strategies",
        "none,oracle",
        "--format",
        "json",
    ]
    assert main([*replay, "--people-cost-per-hour", "100"]) == 0
    report = json.loads(capsys.readouterr().out)
    results = report["results"]
    assert results["none"]["cold_starts"] == 3
    assert results["oracle"]["warm_starts"] == 1  # e-2 on e-1's pool, idle 10 minutes
    # each pool at its own type's price: 130 s of its instance and of a person per cold start
    assert report["scenario"]["prices_per_hour"] == {"ml.g5.2xlarge": 1.515, "ml.g5.xlarge": 1.408}
    assert results["none"]["total_cost_usd"] == pytest.approx(130 * (2 * 101.515 + 101.408) / 3600, abs=1e-3)
    assert report["scenario"]["start"] == first["submitted_at"]  # its own clock, without --start

    monkeypatch.setattr("sys.stdin", io.StringIO(trace.read_text()))  # `trace export | simulate -`
    assert main(["simulate", "-", *replay[2:], "--people-cost-per-hour", "100"]) == 0
    piped = json.loads(capsys.readouterr().out)
    assert piped["scenario"] == report["scenario"]
    assert [{**row, "seconds": 0} for row in piped["results"].values()] == [
        {**row, "seconds": 0} for row in results.values()
    ]


def test_the_jobs_own_keep_alives_replay_as_the_job_strategy(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # before deploying (a dry run changes no pool), each pool is kept as its job asked: `--strategies job`
    # replayed every job as keeping nothing, the `none` column again
    system.set_policy({"version": 1, "dry_run": True, "defaults": {"keep_alive_strategy": "none"}})
    system.run_job("k-1", 450, keep_alive_seconds=900, tags={"team": "vision"})  # trains 300 s
    system.advance(300)
    system.run_job("k-2", 170, keep_alive_seconds=0, tags={"team": "vision"})  # asks for no pool
    system.advance(1200)
    system.run_job("k-3", 250, keep_alive_seconds=1200, tags={"team": "vision"})  # cold: trains 100 s
    system.advance(1300)
    trace = tmp_path / "mine.csv"
    assert main(["trace", "export", "--days", "1", "--out", str(trace)]) == 0
    with trace.open() as handle:
        assert [row["keep_alive_s"] for row in csv.DictReader(handle)] == ["900", "0", "1200"]
    capsys.readouterr()
    argv = [
        "simulate",
        str(trace),
        "--instance-type",
        "trace",
        "--strategies",
        "job,none",
        "--format",
        "json",
    ]
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    # k-2 asked for no keep-alive, so SageMaker (the emulator) started it cold beside k-1's warm pool; the
    # replay gave it k-1's pool, a warm start the account never had. k-1's pool idles its whole 900 s,
    # k-2 leaves none, k-3's idles its 1,200 s; `none` keeps nothing
    assert not system.emulator.job("k-2").warm_start
    job = results["job"]
    assert (job["cold_starts"], job["warm_starts"]) == (3, 0)
    assert job["idle_instance_seconds"] == 900 + 1200
    assert (results["none"]["idle_instance_seconds"], results["none"]["cold_starts"]) == (0, 3)


def test_in_an_account_warmpool_manages_keep_alive_s_is_warmpool_s_last_update(
    system: System, tmp_path: Path
) -> None:
    # docs/cli.md said keep_alive_s was the job's own keep-alive, "the account without warmpool": it is
    # what DescribeTrainingJob shows, warmpool's last update where warmpool manages the pool
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}})
    system.run_job("m-1", 450, keep_alive_seconds=900, tags={"team": "vision"})
    system.advance(60)
    assert [u["seconds"] for u in system.control.update_calls()] == [1800]
    trace = tmp_path / "mine.csv"
    assert main(["trace", "export", "--days", "1", "--out", str(trace)]) == 0
    with trace.open() as handle:
        assert [row["keep_alive_s"] for row in csv.DictReader(handle)] == ["1800"]


def test_the_period_is_checked_and_an_empty_one_says_so(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert main(["trace", "export", "--since", "yesterday"]) == 2
    assert "--since 'yesterday' is not an ISO 8601 moment" in capsys.readouterr().err
    assert main(["trace", "export", "--since", "2026-03-02", "--until", "2026-03-01"]) == 2
    assert "is not before --until" in capsys.readouterr().err
    assert main(["trace", "export", "--days", "0"]) == 2
    assert "--days must be more than 0" in capsys.readouterr().err
    # at the calendar's ends: an OverflowError traceback
    for period in (["--until", "0001-01-01"], ["--since", "0001-01-01T00:00+05:00"]):
        assert main(["trace", "export", *period]) == 2
        assert capsys.readouterr().err == (
            f"warmpool: {' '.join(period)}: the period reaches past the calendar's first day; give "
            "moments from 1970 on\n"
        )
    assert main(["trace", "export", "--workers", "0"]) == 2
    assert "--workers must be 1 to 64, got 0" in capsys.readouterr().err
    # an --out that cannot be written is refused before any job is described (it was a traceback after)
    missing = tmp_path / "nope" / "mine.csv"
    assert main(["trace", "export", "--out", str(missing)]) == 2
    refused = capsys.readouterr()
    assert f"--out {missing}: the folder {missing.parent} does not exist; create it" in refused.err
    assert refused.out == ""
    assert main(["trace", "export", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path}: is a folder; name a file in it" in capsys.readouterr().err
    out = tmp_path / "none.csv"
    assert main(["trace", "export", "--since", "2025-01-01", "--until", "2025-01-02", "--out", str(out)]) == 1
    assert "no finished training jobs created between 2025-01-01T00:00:00+00:00" in capsys.readouterr().err
    assert not out.exists()
    assert main(["trace", "export", "--instance-type", "ml.p4d.24xlarge"]) == 1
    assert "3 on another instance type than ml.p4d.24xlarge" in capsys.readouterr().err
    assert main(["trace", "export", "--instance-type", "ml.g5.xlarge", "--out", str(out)]) == 0
    said = capsys.readouterr().err
    assert "1 job in 1 pool, submitted from" in said
    assert "2 on another instance type than ml.g5.xlarge" in said
    assert f"warmpool simulate {out} --instance-type ml.g5.xlarge --start" in said


def test_the_policys_tag_names_name_the_team_and_the_owner(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    account.run_job("s-1", 60, instance_type="ml.c5.9xlarge", tags={"squad": "search", "person": "dana"})
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ntags: {team: squad, owner: person}\nprices: {ml.c5.9xlarge: 1.5}\n")
    capsys.readouterr()
    trace = tmp_path / "mine.csv"
    assert main(["trace", "export", "--policy", str(policy), "--out", str(trace)]) == 0
    said = capsys.readouterr().err
    rows = list(csv.DictReader(trace.read_text().splitlines()))
    assert [(r["job_name"], r["team"], r["user"]) for r in rows][-1] == ("s-1", "search", "dana")
    assert [r["team"] for r in rows][:3] == ["", "", ""]  # `team` is no tag name of this policy
    # the command it says replays the trace with the policy, whose prices price the type the built-in
    # table does not: without it, that command was refused ("no price known for instance type")
    command = said.split("Replay them on their own clock and instance types: ")[1].split()
    assert command[-2:] == ["--policy", str(policy)]
    assert main([*command[1:], "--strategies", "none", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"]["prices_per_hour"]["ml.c5.9xlarge"] == 1.5


AGAIN = "export it again once there is room, or to another file"


def test_a_trace_that_fails_to_write_after_every_job_is_described_exits_1_naming_the_file(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a full disk: the check before the jobs are described passes, the write after fails; it exited 2,
    # the code of a usage error, as if the command had been given wrongly
    full = tmp_path / "mine.csv"
    full.symlink_to("/dev/full")
    capsys.readouterr()
    assert main(["trace", "export", "--days", "1", "--out", str(full)]) == 1
    assert capsys.readouterr().err == (
        f"warmpool: --out {full}: the trace was not written (No space left on device); what reached it "
        f"is incomplete; {AGAIN}\n"
    )


@contextmanager
def files_of_at_most(size: int) -> Iterator[None]:
    """A write past `size` bytes fails (EFBIG, as under `ulimit -f`): a disk that fills midway."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_trace_cut_short_leaves_no_csv_that_looks_complete(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # written in place, the CSV was cut after its header and first rows: a trace that simulate replays
    # as if it were the whole period's
    earlier = tmp_path / "mine.csv"
    earlier.write_text("submit_time_s,duration_s,pool\n0,100,a\n")
    new = tmp_path / "new.csv"
    capsys.readouterr()
    with files_of_at_most(100):
        codes = [main(["trace", "export", "--days", "1", "--out", str(path)]) for path in (earlier, new)]
    assert codes == [1, 1]
    assert capsys.readouterr().err.splitlines() == [
        f"warmpool: --out {path}: the trace was not written (File too large); {left}; {AGAIN}"
        for path, left in ((earlier, "the file is as it was"), (new, "no file was made"))
    ]
    assert earlier.read_text() == "submit_time_s,duration_s,pool\n0,100,a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.csv"]  # nor a temporary file beside it


# a formula a tag may hold: SageMaker takes letters, digits, spaces and _ . : / = + - @ in tags
FORMULA = "=A1+B1/2"


def test_tags_a_spreadsheet_would_run_as_formulas_are_written_as_text_and_replayed_as_tagged(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # whoever starts a job writes its tags: opened in a spreadsheet, a team `=A1+B1/2` ran as a
    # formula (CSV injection); each such text cell is written after a `'`, which simulate drops again
    account.run_job("f-1", 250, tags={"team": FORMULA, "owner": "@alice"})
    account.run_job("f-2", 250, tags={"team": "-ops", "owner": "+bob"})
    trace = tmp_path / "mine.csv"
    capsys.readouterr()
    assert main(["trace", "export", "--days", "1", "--out", str(trace)]) == 0
    with trace.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["job_name"], r["team"], r["user"]) for r in rows][-2:] == [
        ("f-1", "'" + FORMULA, "'@alice"),
        ("f-2", "'-ops", "'+bob"),
    ]
    formula_starts = ("=", "+", "-", "@", "\t", "\r")
    assert not [cell for row in rows for cell in row.values() if cell.startswith(formula_starts)]
    # the numbers stay numbers
    assert [(float(r["duration_s"]), int(r["instance_count"])) for r in rows][-2:] == [(250, 1), (250, 1)]
    capsys.readouterr()

    # replayed: each team is its tag, as a policy's teams and `--by team` name it
    assert main(["simulate", str(trace), "--instance-type", "trace", "--by", "team", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["by_team"]) == sorted([FORMULA, "-ops", "nlp", "vision"])
    assert report["by_team"]["-ops"]["jobs"] == 1


def test_back_to_back_periods_keep_every_job_once_even_one_created_on_their_edge(
    account: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A period is [--since, --until): the job created at the moment one ends is the next one's. Both
    # ends were strict, so a job created on the edge (the first job, at the --start the export prints,
    # or every job on the emulator's whole-second clock) was in neither trace.
    created = {
        name: account.sagemaker.describe_training_job(TrainingJobName=name)["CreationTime"]
        for name in ("e-1", "e-2", "e-3")
    }
    edge = created["e-2"].isoformat()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    capsys.readouterr()
    since = created["e-1"].isoformat()
    assert main(["trace", "export", "--since", since, "--until", edge, "--out", str(first)]) == 0
    assert main(["trace", "export", "--since", edge, "--out", str(second)]) == 0
    names = [
        row["job_name"] for trace in (first, second) for row in csv.DictReader(trace.open(encoding="utf-8"))
    ]
    assert names == ["e-1", "e-2", "e-3"]
